// DKIMBodyHasher: the body hash `bh=` computed while the body streams by, in chunks of any size, with
// memory independent of the message (RFC 6376 §3.4.3 simple, §3.4.4 relaxed, §3.5 `l=`). Empty lines are
// only counted until a non-empty line proves they were not trailing; whitespace runs likewise.

/// Streams a message body through a body canonicalization into SHA-256.
public struct DKIMBodyHasher: Sendable {
    public let canonicalization: DKIMCanonicalization
    /// `l=`: hash only this many canonical octets, when set.
    public let lengthLimit: Int?

    private var hash = DKIMSHA256()
    /// Canonical octets produced so far (all of them, also past `lengthLimit`).
    public private(set) var canonicalLength = 0
    private var pendingEmptyLines = 0
    private var pendingCR = false
    private var pendingSpace = false
    private var lineHasContent = false
    private var finished = false
    /// The hash once ``finalize()`` has run (the digest context is finished in place, not copied).
    private var digest: [UInt8]?
    /// Output staged before it goes to the hash: one EVP call per few KiB instead of per byte.
    private var staged: [UInt8] = []

    public init(canonicalization: DKIMCanonicalization, lengthLimit: Int? = nil) {
        self.canonicalization = canonicalization
        self.lengthLimit = lengthLimit
        staged.reserveCapacity(Self.stageSize)
    }

    private static let stageSize = 4096

    /// Adds body bytes (as transmitted: lines end in CRLF; a bare LF is taken as a line end too).
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        precondition(!finished, "DKIMBodyHasher updated after finalize")
        // Called from other modules this generic is not specialized: iterating `bytes` itself would go through
        // witness tables per byte (most of a 10 KB verify's time). Contiguous storage is looped over directly.
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(contiguous: $0) }
        if done == nil { Array(bytes).withUnsafeBufferPointer { update(contiguous: $0) } }
    }

    /// Byte classes: 0 ordinary (copied as it is), 1 SP (relaxed: one SP between ordinary bytes is kept
    /// as it is), 2 the rest (CR, LF, and relaxed's HT), which go through the state machine.
    private static let simpleClasses: [UInt8] = (0..<256).map { $0 == 13 || $0 == 10 ? 2 : 0 }
    private static let relaxedClasses: [UInt8] = (0..<256).map { $0 == 13 || $0 == 10 || $0 == 9 ? 2 : $0 == 32 ? 1 : 0 }

    /// Canonicalization mostly leaves a body as it is: outside a few places (whitespace runs, whitespace at a
    /// line end, empty lines, bare LFs, the end) the canonical bytes are the input bytes. So while the state
    /// is "inside a line with content, nothing pending", the longest stretch that canonicalizes to itself is
    /// found with a byte-class table and hashed in one call — an ordinary byte; SP + ordinary (relaxed); CR +
    /// ordinary (a bare CR is content); CRLF + ordinary (the next line starts with content) — and only the
    /// bytes after it go through the byte-by-byte state machine, until that state is reached again.
    private mutating func update(contiguous buffer: UnsafeBufferPointer<UInt8>) {
        let relaxed = canonicalization == .relaxed
        let table = relaxed ? Self.relaxedClasses : Self.simpleClasses
        table.withUnsafeBufferPointer { classes in
            let count = buffer.count
            var index = 0
            while index < count {
                guard !pendingCR, !pendingSpace, lineHasContent else {
                    consume(buffer[index])
                    index += 1
                    continue
                }
                let start = index
                while index < count {
                    // Thirty-two bytes per step while none needs a look (most of a body): four independent
                    // words, one branch; the eight-byte step below then finds the byte that stopped it.
                    let base = buffer.baseAddress!
                    if relaxed {
                        // Here a CR LF that starts a line with content passes too (it needs the byte before
                        // and two after the window).
                        while index >= 1, index + 34 <= count, Self.relaxedStops(thirtyTwoBytesAt: base + index) == 0 {
                            index += 32
                        }
                        // A step may end between a CR and its LF; the eight-byte test would stop at that LF
                        // and leave the CR in the verbatim stretch. Go back to the CR, which it takes whole.
                        if index > start && buffer[index - 1] == 13 { index -= 1 }
                    } else {
                        while index + 33 <= count, Self.simpleStops(thirtyTwoBytesAt: base + index) == 0 { index += 32 }
                    }
                    if index + 9 <= count {
                        // Eight bytes at a time (SWAR): skip words with no byte that needs a closer look.
                        let base = UnsafeRawPointer(buffer.baseAddress! + index)
                        let word = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
                        // Relaxed also looks at each byte's successor (the same word one byte on), so an SP
                        // that ends a word is judged by the byte after it rather than always stopping.
                        let stops = relaxed
                            ? Self.relaxedStops(word, next: UInt64(littleEndian: (base + 1).loadUnaligned(as: UInt64.self)))
                            : Self.simpleStops(word)
                        if stops == 0 {
                            index += 8
                            continue
                        }
                        index += stops.trailingZeroBitCount >> 3
                    }
                    let byteClass = classes[Int(buffer[index])]
                    if byteClass == 0 {
                        index += 1
                        continue
                    }
                    if byteClass == 1 {
                        // SP followed by an ordinary byte.
                        guard index + 1 < count, classes[Int(buffer[index + 1])] == 0 else { break }
                        index += 2
                        continue
                    }
                    guard buffer[index] == 13, index + 1 < count else { break }
                    let next = buffer[index + 1]
                    if classes[Int(next)] == 0 {
                        index += 2  // a bare CR, content, then an ordinary byte
                        continue
                    }
                    // CRLF, then an ordinary byte starting the next line.
                    guard next == 10, index + 2 < count, classes[Int(buffer[index + 2])] == 0 else { break }
                    index += 3
                }
                if index > start { emitSpan(UnsafeBufferPointer(rebasing: buffer[start..<index])) }
                if index < count {
                    consume(buffer[index])
                    index += 1
                }
            }
        }
    }

    /// Simple: the bytes that stop a verbatim stretch are CR and LF.
    @inline(__always)
    private static func simpleStops(_ word: UInt64) -> UInt64 {
        ByteLanes.equal(word, 13) | ByteLanes.equal(word, 10)
    }

    /// Relaxed: every byte below 0x21 (CR, LF, HT, SP and the rare control bytes) stops a stretch, except an
    /// SP whose next byte (the same byte of `next`, the word loaded one byte further) is not one of them.
    @inline(__always)
    private static func relaxedStops(_ word: UInt64, next: UInt64) -> UInt64 {
        let low = ByteLanes.belowExclamation(word)
        let spaces = ByteLanes.equal(word, 0x20)
        return (low & ~spaces) | (spaces & ByteLanes.belowExclamation(next))
    }

    /// Whether any of the 32 bytes at `bytes` stops a simple stretch (nonzero if so).
    @inline(__always)
    private static func simpleStops(thirtyTwoBytesAt bytes: UnsafePointer<UInt8>) -> UInt64 {
        let raw = UnsafeRawPointer(bytes)
        return simpleStops(raw.loadUnaligned(as: UInt64.self)) | simpleStops(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            | simpleStops(raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            | simpleStops(raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Whether any of the 32 bytes at `bytes` stops a relaxed stretch (nonzero if so). Unlike the eight-byte
    /// test, a CR LF followed by an ordinary byte does not stop: that is a line end canonicalization keeps as
    /// it is. Reads from one byte before `bytes` to two bytes after the window.
    @inline(__always)
    private static func relaxedStops(thirtyTwoBytesAt bytes: UnsafePointer<UInt8>) -> UInt64 {
        let raw = UnsafeRawPointer(bytes)
        func word(_ offset: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        var stops: UInt64 = 0
        for offset in stride(from: 0, to: 32, by: 8) {
            // Lane k of `previous`, `next` and `afterNext` holds the byte before, after and two after byte k.
            let current = word(offset), previous = word(offset - 1), next = word(offset + 1), afterNext = word(offset + 2)
            let low = ByteLanes.belowExclamation(current)
            let spaces = ByteLanes.equal(current, 0x20)
            let returns = ByteLanes.equal(current, 13)
            let feeds = ByteLanes.equal(current, 10)
            stops |= (low & ~(spaces | returns | feeds))  // HT and control bytes
                | (spaces & ByteLanes.belowExclamation(next))  // an SP before whitespace, a line end or a control byte
                | (returns & ~(ByteLanes.equal(next, 10) & ~ByteLanes.belowExclamation(afterNext)))  // CR not CR LF + content
                | (feeds & ~ByteLanes.equal(previous, 13))  // a bare LF
        }
        return stops
    }

    /// `emit` for a stretch copied as it is: a long one goes to the hash straight from the input.
    private mutating func emitSpan(_ run: UnsafeBufferPointer<UInt8>) {
        guard lengthLimit == nil, run.count >= 512 else {
            emit(run)
            return
        }
        flushStage()
        hash.update(UnsafeRawBufferPointer(run))
        canonicalLength += run.count
    }

    /// The body hash; call once, after the last `update` (a second call returns the same hash).
    public mutating func finalize() -> [UInt8] {
        if let digest { return digest }
        if !finished {
            finished = true
            if pendingCR {
                pendingCR = false
                content(13)
            }
            if canonicalization == .relaxed { pendingSpace = false }  // trailing WSP is dropped
            if lineHasContent {
                emit(13)
                emit(10)
            } else if canonicalization == .simple && canonicalLength == 0 {
                // §3.4.3: an empty body is one CRLF under simple (under relaxed it stays empty).
                emit(13)
                emit(10)
            }
            flushStage()
        }
        let digest = hash.finalizeConsuming()
        self.digest = digest
        return digest
    }

    private mutating func consume(_ byte: UInt8) {
        if pendingCR {
            pendingCR = false
            if byte == 10 {
                endLine()
                return
            }
            content(13)
        }
        switch byte {
        case 13:
            pendingCR = true
        case 10:
            endLine()
        case 32 where canonicalization == .relaxed, 9 where canonicalization == .relaxed:
            pendingSpace = true
        default:
            content(byte)
        }
    }

    private mutating func content(_ byte: UInt8) {
        if !lineHasContent {
            while pendingEmptyLines > 0 {
                emit(13)
                emit(10)
                pendingEmptyLines -= 1
            }
            lineHasContent = true
        }
        if pendingSpace {
            pendingSpace = false
            emit(32)
        }
        emit(byte)
    }

    private mutating func endLine() {
        pendingSpace = false  // relaxed: WSP at the end of a line goes
        if lineHasContent {
            emit(13)
            emit(10)
            lineHasContent = false
        } else {
            pendingEmptyLines += 1
        }
    }

    private mutating func emit(_ byte: UInt8) {
        defer { canonicalLength += 1 }
        if let lengthLimit, canonicalLength >= lengthLimit { return }
        staged.append(byte)
        if staged.count >= Self.stageSize { flushStage() }
    }

    /// `emit` for a run of bytes.
    private mutating func emit(_ run: UnsafeBufferPointer<UInt8>) {
        defer { canonicalLength += run.count }
        var kept = run
        if let lengthLimit {
            let room = max(0, lengthLimit - canonicalLength)
            if room < run.count { kept = UnsafeBufferPointer(rebasing: run[0..<room]) }
        }
        guard !kept.isEmpty else { return }
        staged.append(contentsOf: kept)
        if staged.count >= Self.stageSize { flushStage() }
    }

    private mutating func flushStage() {
        guard !staged.isEmpty else { return }
        staged.withUnsafeBytes { hash.update($0) }
        staged.removeAll(keepingCapacity: true)
    }
}
