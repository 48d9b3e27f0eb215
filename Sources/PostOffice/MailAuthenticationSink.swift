// MailAuthenticationSink: holds an inbound message while it arrives — its first 64 KiB in memory (up to 1 MiB
// while a server-wide budget has room), the rest in a reused spool file (MailAuthenticationSpool), so memory
// stays bounded — verifying its DKIM signatures as the bytes stream by. At commit (storage pool) it fetches keys and the DMARC policy, then delivers through the
// real sink with one Authentication-Results header in front and any forged one (our authserv-id) left out;
// or refuses it when DMARC enforcement says so.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDKIM
import PostOfficeDelivery
import PostOfficeSPF

/// Checks one inbound message, then feeds the sink chosen for it (`.Junk` for a DMARC quarantine).
final class MailAuthenticationSink: MessageSink, @unchecked Sendable {
    struct Settings: Sendable {
        var authservID: String
        var addsReceivedSPFHeader = false
        var enforcesDMARC = false
        var timeoutSeconds = 20
        /// Bytes kept in memory before the message moves to a spool file.
        var memoryLimit = 64 * 1024
        /// Up to this many bytes may stay in memory when the server-wide budget
        /// (`MailAuthenticationSpool.sharedMemoryBudget`) has room for what goes beyond `memoryLimit`.
        var sharedMemoryLimit = 1024 * 1024
    }

    private let settings: Settings
    private let authenticator: MailAuthenticator
    private let spf: SPFOutcome?
    /// Opens the real sink: `true` files local copies into the recipients' `.Junk` folders.
    private let open: @Sendable (_ quarantine: Bool) -> any MessageSink
    private let spoolPath: (directory: String, name: String)
    private let logSink: any LogSink
    private let sessionID: String
    private var verifier: DKIMVerifier
    private var scanner: AuthenticationHeaderScanner
    /// The message's first bytes: large pieces in the arrays they arrived in (kept, not copied), small ones
    /// gathered into chunks of `gatheringCapacity`. Growing one array instead copied every byte once more
    /// on each reallocation, and once again into the first write at commit.
    private var memory: [[UInt8]] = []
    /// Message bytes held in `memory`.
    private var memoryCount = 0
    /// What `memory` takes (the arrays' capacities), which the limits count: many small pieces cannot hold
    /// more than the bytes they carry suggest.
    private var memoryFootprint = 0
    /// Whether the last array of `memory` is one this sink gathers small pieces into (so it may grow in place).
    private var lastChunkGathers = false
    private var spool: MailAuthenticationSpool.File?
    /// The message offset of the spool's first byte (what `memory` held when the spool was taken).
    private var spoolStart = 0
    /// Bytes of `memoryFootprint` beyond `memoryLimit`, claimed from the server-wide budget until `release()`.
    private var sharedMemory = 0

    /// Pieces at least this long are kept as they are; shorter ones are gathered.
    private static let keptPieceSize = 8 * 1024
    /// The capacity of a chunk that gathers small pieces (a session reads at most 16 KiB at a time).
    private static let gatheringCapacity = 16 * 1024
    /// At commit, the held arrays go to the real sink in appends of about this size.
    private static let writeSize = 64 * 1024
    private var failure: DeliveryError?

    init(
        settings: Settings, authenticator: MailAuthenticator, spf: SPFOutcome?, now: Int, spoolDirectory: String,
        spoolName: String, logSink: any LogSink, sessionID: String, open: @escaping @Sendable (_ quarantine: Bool) -> any MessageSink
    ) {
        self.settings = settings
        self.authenticator = authenticator
        self.spf = spf
        self.open = open
        spoolPath = (spoolDirectory, spoolName)
        self.logSink = logSink
        self.sessionID = sessionID
        verifier = DKIMVerifier(now: now, publicKeys: authenticator.publicKeys)
        scanner = AuthenticationHeaderScanner(authservID: settings.authservID)
    }

    func append(_ bytes: [UInt8]) {
        guard failure == nil else { return }
        verifier.receive(bytes)
        if !scanner.isComplete { scanner.receive(bytes) }
        if spool == nil {
            // What holding `bytes` adds to the footprint: nothing when they fit the gathering chunk's room.
            let fitsLastChunk = lastChunkGathers && memory[memory.count - 1].capacity - memory[memory.count - 1].count >= bytes.count
            let isKept = !fitsLastChunk && bytes.count >= Self.keptPieceSize
            // A new gathering chunk takes what is left of `memoryLimit` when that is less than its usual size.
            let room = settings.memoryLimit - memoryFootprint
            let gathering = max(bytes.count, room > 0 ? min(Self.gatheringCapacity, room) : Self.gatheringCapacity)
            let added = fitsLastChunk ? 0 : isKept ? bytes.capacity : gathering
            let total = memoryFootprint + added
            if total <= settings.memoryLimit {
                hold(bytes, fitsLastChunk: fitsLastChunk, isKept: isKept, footprint: added)
                return
            }
            // Past its own 64 KiB a message may keep growing in memory (up to sharedMemoryLimit) while the
            // server-wide budget has room; otherwise, and beyond that, the rest goes to the spool.
            let needed = total - settings.memoryLimit - sharedMemory
            if total <= settings.sharedMemoryLimit && authenticator.spool.reserveMemory(needed) {
                sharedMemory += needed
                hold(bytes, fitsLastChunk: fitsLastChunk, isKept: isKept, footprint: added)
                return
            }
        }
        // The first bytes stay in memory (bounded by `memoryLimit`); only what comes after them is spooled.
        do throws(DeliveryError) {
            let file: MailAuthenticationSpool.File
            if let spool {
                file = spool
            } else {
                file = try authenticator.spool.take(directory: spoolPath.directory, name: spoolPath.name)
                spool = file
                spoolStart = memoryCount
            }
            try file.append(bytes)
        } catch {
            failure = error
            release()
        }
    }

    /// Adds `bytes` to `memory` as `append` planned: into the gathering chunk, as a kept array, or into a
    /// new gathering chunk.
    private func hold(_ bytes: [UInt8], fitsLastChunk: Bool, isKept: Bool, footprint: Int) {
        if fitsLastChunk {
            memory[memory.count - 1].append(contentsOf: bytes)
        } else if isKept {
            memory.append(bytes)
            lastChunkGathers = false
        } else {
            var chunk: [UInt8] = []
            chunk.reserveCapacity(footprint)
            chunk.append(contentsOf: bytes)
            memory.append(chunk)
            lastChunkGathers = true
        }
        memoryCount += bytes.count
        memoryFootprint += footprint
    }

    func commit() -> DeliveryOutcome {
        defer { release() }
        if let failure { return failure.outcome }
        scanner.finish()
        verifier.finish()
        let from = Self.fromDomain(scanner.fromValues)
        let (dkim, dmarc) = authenticator.verify(
            &verifier, fromDomain: from.domain, spf: spf, timeoutSeconds: settings.timeoutSeconds)
        let header = AuthenticationResultsHeader(
            authservID: settings.authservID, spf: spf, dkim: dkim, dmarc: dmarc, dmarcProblem: from.problem)
        logSink.log(LogRecord(.info, "smtp.authentication", session: sessionID, [
            ("spf", spf?.result.rawValue ?? "none"), ("spf_domain", spf?.request.domain ?? ""), ("dkim", dkim.map { $0.status.rawValue + ($0.domain.map { ":" + $0 } ?? "") }.joined(separator: ",")),
            ("dmarc", dmarc?.result.rawValue ?? (from.problem == nil ? "none" : "permerror")), ("from_domain", from.domain ?? ""),
            ("disposition", dmarc?.disposition.rawValue ?? "none"), ("forged_removed", String(scanner.forgedRanges.count)),
        ]))
        var quarantine = false
        if settings.enforcesDMARC, let dmarc, dmarc.result == .fail {
            switch dmarc.disposition {
            case .reject:
                // RFC 7489 §6.7 / RFC 7372: refused at the end of DATA, naming the domain and what would pass.
                return .permanentFailure(
                    EnhancedStatusCode(5, 7, 1),
                    "Message refused: the DMARC policy of \(dmarc.fromDomain) (p=reject) failed: neither SPF nor DKIM "
                        + "passed for a domain aligned with the From: domain (the sender must sign with DKIM or send from a host its SPF record permits)")
            case .quarantine:
                quarantine = true
            case .none:
                break
            }
        }
        var added = header.fieldBytes
        if settings.addsReceivedSPFHeader, let spf {
            added.append(contentsOf: spf.receivedSPFHeader(receiver: settings.authservID).utf8)
            added.append(contentsOf: "\r\n".utf8)
        }
        let inner = open(quarantine)
        do throws(DeliveryError) {
            try copyMessage(to: inner, after: added)
        } catch {
            inner.abort()
            return error.outcome
        }
        return inner.commit()
    }

    func abort() {
        release()
    }

    /// A session that ends without commit or abort still returns its spool file.
    deinit {
        release()
    }

    /// Drops the held message: memory freed, the spool file back in the pool.
    private func release() {
        if let spool { authenticator.spool.giveBack(spool) }
        spool = nil
        memory = []
        memoryCount = 0
        memoryFootprint = 0
        lastChunkGathers = false
        if sharedMemory > 0 { authenticator.spool.releaseMemory(sharedMemory) }
        sharedMemory = 0
    }

    /// Streams `header` and then the held message into `inner`, leaving out the forged Authentication-Results
    /// fields: the header and the arrays in memory gathered into appends of up to `writeSize` (a write to the
    /// file each: one per arriving piece cost more in system calls than the copy), then the spooled rest read
    /// back a chunk at a time. An array holding part of a forged field goes on its own, the field left out.
    private func copyMessage(to inner: any MessageSink, after header: [UInt8]) throws(DeliveryError) {
        let forged = scanner.forgedRanges
        var gathered = header
        gathered.reserveCapacity(header.count + min(memoryCount, Self.writeSize + Self.gatheringCapacity))
        var offset = 0
        for chunk in memory {
            let end = offset + chunk.count
            if forged.contains(where: { $0.upperBound > offset && $0.lowerBound < end }) {
                if !gathered.isEmpty { inner.append(gathered) }
                gathered.removeAll(keepingCapacity: true)
                Self.emit(chunk, count: chunk.count, at: offset, skipping: forged, to: inner)
            } else {
                gathered += chunk
                if gathered.count >= Self.writeSize {
                    inner.append(gathered)
                    gathered.removeAll(keepingCapacity: true)
                }
            }
            offset = end
        }
        if !gathered.isEmpty { inner.append(gathered) }
        memory = []
        guard let spool else { return }
        let chunkSize = max(settings.memoryLimit, 16 * 1024)
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        offset = 0
        while offset < spool.size {
            let count = try spool.read(at: offset, into: &buffer)
            if count == 0 {
                throw DeliveryError(storage: SystemError("read", errno: EIO, detail: "authentication spool ended early"))
            }
            Self.emit(buffer, count: count, at: spoolStart + offset, skipping: forged, to: inner)
            offset += count
        }
    }

    /// Appends the parts of `chunk` (which starts at message offset `start`) outside every range in `skipped`.
    static func emit(_ chunk: ArraySlice<UInt8>, at start: Int, skipping skipped: [Range<Int>], to inner: any MessageSink) {
        emit(Array(chunk), count: chunk.count, at: start, skipping: skipped, to: inner)
    }

    /// Appends the first `count` bytes of `chunk` (which starts at message offset `start`) outside every
    /// range in `skipped`; the array itself when nothing is left out and it is whole (no copy).
    static func emit(
        _ chunk: [UInt8], count: Int, at start: Int, skipping skipped: [Range<Int>], to inner: any MessageSink
    ) {
        let end = start + count
        guard count > 0 else { return }
        if !skipped.contains(where: { $0.upperBound > start && $0.lowerBound < end }) {
            inner.append(count == chunk.count ? chunk : Array(chunk[..<count]))
            return
        }
        var position = start
        for range in skipped where range.upperBound > position && range.lowerBound < end {
            if range.lowerBound > position { inner.append(Array(chunk[(position - start)..<(range.lowerBound - start)])) }
            position = min(end, range.upperBound)
        }
        if position < end { inner.append(Array(chunk[(position - start)..<count])) }
    }

    /// Removes `auth-*` spool files untouched for an hour: left by a crash, never acknowledged, so never owed
    /// to anyone (a message being received is written to at least every `smtp_data_timeout`). Returns the count.
    @discardableResult
    static func removeStaleSpoolFiles(in directory: String, now: Int) -> Int {
        guard let stream = opendir(directory) else { return 0 }
        defer { closedir(stream) }
        var removed = 0
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("auth-") else { continue }
            var status = stat()
            let path = directory + "/" + name
            if lstat(path, &status) == 0, Int(status.st_mtim.tv_sec) < now - 3600, unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    /// The RFC 5322.From domain DMARC is about: exactly one address in exactly one From: field
    /// ([RFC 7489 §6.6.1](https://www.rfc-editor.org/rfc/rfc7489#section-6.6.1)), else the reason there is none.
    static func fromDomain(_ values: [String]) -> (domain: String?, problem: String?) {
        guard values.count == 1 else {
            return (nil, values.isEmpty ? "no From: field" : "\(values.count) From: fields")
        }
        // The usual forms without the general parser (its scalar-by-scalar scanner cost ~10 µs a message).
        if let domain = simpleFromDomain(values[0]) { return (domain, nil) }
        let parsed = AddressListParser.parse(values[0], defaultDomain: "")
        guard parsed.invalid.isEmpty, parsed.addresses.count == 1, !parsed.addresses[0].domain.isEmpty else {
            return (nil, "From: is not one address")
        }
        return (parsed.addresses[0].normalizedDomain, nil)
    }

    /// The From: domain, in canonical form, when `value` is one of the usual simple forms: `local@domain` or
    /// `display name <local@domain>` (the name plain words or quoted strings without backslashes), with
    /// whitespace only around them; nil for anything else, which ``AddressListParser`` then reads. Where this
    /// gives a domain it is exactly the one the parser finds (tested side by side).
    static func simpleFromDomain(_ value: String) -> String? {
        var value = value
        return value.withUTF8 { bytes -> String? in
            func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
            /// Printable ASCII that the parser treats as an ordinary character (no quote, comment, literal,
            /// angle, list or group punctuation, no backslash, no `@`).
            func isOrdinary(_ byte: UInt8) -> Bool {
                guard byte > 0x20, byte < 0x7F else { return false }
                switch byte {
                case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","),
                    UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"),
                    UInt8(ascii: "["), UInt8(ascii: "]"):
                    return false
                default:
                    return true
                }
            }
            /// The canonical domain of `bytes[start..<end]` when it is `local@domain` of ordinary bytes.
            func domain(_ start: Int, _ end: Int) -> String? {
                var at = -1
                for index in start..<end {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "@") {
                        guard at < 0 else { return nil }
                        at = index
                    } else if !isOrdinary(byte) {
                        return nil
                    }
                }
                guard at > start, at + 1 < end else { return nil }
                return MailAddress.canonicalDomain(String(decoding: bytes[(at + 1)..<end], as: UTF8.self))
            }
            var end = bytes.count
            while end > 0, isSpace(bytes[end - 1]) { end -= 1 }
            guard let open = bytes[..<end].firstIndex(of: UInt8(ascii: "<")) else {
                var start = 0
                while start < end, isSpace(bytes[start]) { start += 1 }
                return domain(start, end)
            }
            guard bytes[end - 1] == UInt8(ascii: ">"), end - 1 > open else { return nil }
            // The display name: ordinary bytes, whitespace, UTF-8 beyond ASCII, quoted strings without `\`.
            var inQuote = false
            for index in 0..<open {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    inQuote.toggle()
                } else if inQuote {
                    if byte == UInt8(ascii: "\\") { return nil }
                } else if !(isOrdinary(byte) || isSpace(byte) || byte >= 0x80) {
                    return nil
                }
            }
            guard !inQuote else { return nil }
            return domain(open + 1, end - 1)
        }
    }
}
