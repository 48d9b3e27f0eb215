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

    /// The state machine byte by byte, except that after an ordinary byte (not CR, LF, or relaxed's
    /// white space) the rest of its run is copied in one go: the same output, a fraction of the work.
    /// Under relaxed a single space followed by an ordinary byte stays in the run (relaxed would emit it
    /// unchanged), so prose goes to the hash a line at a time rather than a word at a time.
    private mutating func update(contiguous buffer: UnsafeBufferPointer<UInt8>) {
        let relaxed = canonicalization == .relaxed
        var index = 0
        while index < buffer.count {
            let byte = buffer[index]
            index += 1
            consume(byte)
            guard !pendingCR, !pendingSpace, lineHasContent, byte != 10 else { continue }
            var end = index
            while end < buffer.count {
                let next = buffer[end]
                if next == 13 || next == 10 { break }
                if relaxed && (next == 32 || next == 9) {
                    // One space between two ordinary bytes is kept as it is: the run goes on over it.
                    guard next == 32, end + 1 < buffer.count else { break }
                    let after = buffer[end + 1]
                    if after == 13 || after == 10 || after == 32 || after == 9 { break }
                    end += 1
                }
                end += 1
            }
            if end > index {
                emit(UnsafeBufferPointer(rebasing: buffer[index..<end]))
                index = end
            }
        }
    }

    /// The body hash; call once, after the last `update`.
    public mutating func finalize() -> [UInt8] {
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
        return hash.finalize()
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
