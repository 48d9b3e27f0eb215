// MailAuthenticationSink: holds an inbound message while it arrives — in memory up to 64 KiB, then in a spool
// file, so memory stays flat — verifying its DKIM signatures as the bytes stream by. At commit (storage pool)
// it fetches keys and the DMARC policy, then delivers through the real sink with one Authentication-Results
// header in front and any forged one (our authserv-id) left out; or refuses it when DMARC enforcement says so.

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
    private var memory: [UInt8] = []
    private var spool: SpoolFile?
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
        do throws(DeliveryError) {
            if let spool {
                try spool.append(bytes)
            } else if memory.count + bytes.count <= settings.memoryLimit {
                memory += bytes
            } else {
                let file = try SpoolFile(directory: spoolPath.directory, name: spoolPath.name)
                spool = file
                try file.append(memory)
                memory = []
                try file.append(bytes)
            }
        } catch {
            failure = error
            spool?.discard()
            spool = nil
            memory = []
        }
    }

    func commit() -> DeliveryOutcome {
        defer {
            spool?.discard()
            spool = nil
            memory = []
        }
        if let failure { return failure.outcome }
        scanner.finish()
        verifier.finish()
        let from = Self.fromDomain(scanner.fromValues)
        let (dkim, dmarc) = authenticator.verify(
            &verifier, fromDomain: from.domain, spf: spf, timeoutSeconds: settings.timeoutSeconds)
        let header = AuthenticationResultsHeader(
            authservID: settings.authservID, spf: spf, dkim: dkim, dmarc: dmarc, dmarcProblem: from.problem)
        logSink.log(LogRecord(.info, "smtp.authentication", session: sessionID, [
            ("spf", spf?.result.rawValue ?? "none"), ("dkim", dkim.map { $0.status.rawValue + ($0.domain.map { ":" + $0 } ?? "") }.joined(separator: ",")),
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
        var added = header.field
        if settings.addsReceivedSPFHeader, let spf { added += spf.receivedSPFHeader(receiver: settings.authservID) + "\r\n" }
        let inner = open(quarantine)
        inner.append(Array(added.utf8))
        do throws(DeliveryError) {
            try copyMessage(to: inner)
        } catch {
            inner.abort()
            return error.outcome
        }
        return inner.commit()
    }

    func abort() {
        spool?.discard()
        spool = nil
        memory = []
    }

    /// Streams the held message into `inner`, leaving out the forged Authentication-Results fields.
    private func copyMessage(to inner: any MessageSink) throws(DeliveryError) {
        guard let spool else {
            Self.emit(memory[...], at: 0, skipping: scanner.forgedRanges, to: inner)
            return
        }
        let path = try spool.finish()
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DeliveryError(storage: SystemError("open", errno: errno, detail: path)) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var offset = 0
        while true {
            let count = SystemCall.restarting { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
            if count < 0 { throw DeliveryError(storage: SystemError("read", errno: errno, detail: path)) }
            if count == 0 { return }
            Self.emit(buffer[..<count], at: offset, skipping: scanner.forgedRanges, to: inner)
            offset += count
        }
    }

    /// Appends the parts of `chunk` (which starts at message offset `start`) outside every range in `skipped`.
    static func emit(_ chunk: ArraySlice<UInt8>, at start: Int, skipping skipped: [Range<Int>], to inner: any MessageSink) {
        var position = start
        let end = start + chunk.count
        let base = chunk.startIndex - start
        for range in skipped where range.upperBound > position && range.lowerBound < end {
            if range.lowerBound > position { inner.append(Array(chunk[(base + position)..<(base + range.lowerBound)])) }
            position = min(end, range.upperBound)
        }
        if position < end { inner.append(Array(chunk[(base + position)..<(base + end)])) }
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
        let parsed = AddressListParser.parse(values[0], defaultDomain: "")
        guard parsed.invalid.isEmpty, parsed.addresses.count == 1, !parsed.addresses[0].domain.isEmpty else {
            return (nil, "From: is not one address")
        }
        return (parsed.addresses[0].normalizedDomain, nil)
    }
}
