// SendmailSubmission: the engine behind `postoffice sendmail` — reads a message from a stream (the `.` line
// rule, the bounded header block), completes its headers, finds `-t` recipients, and delivers it locally;
// recipients in other domains go into the outbound queue when the runtime gives one (deliver_outbound).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// One message submitted the sendmail way: sender and recipients from the command line (or the headers),
/// the message on a stream. It is delivered with the same ``DeliveryTransaction`` as SMTP: success means
/// every copy is fsync'd and renamed into `new/`, and nothing is stored on failure.
///
/// Memory stays flat: the header block is held (up to ``Options/headerLimit``), the body streams in 64 KiB
/// reads. The header rules are RFC 6409 §8's for a submission agent: `Date:`, `From:` and `Message-ID:`
/// are added when missing, `Bcc:` is removed.
public struct SendmailSubmission: Sendable {
    /// How the input is read and the message completed.
    public struct Options: Hashable, Sendable {
        /// `-t`: recipients also come from `To:`, `Cc:` and `Bcc:` (or the `Resent-` ones).
        public var extractsRecipients: Bool
        /// False with `-i` / `-oi`: a line holding only `.` does not end the input.
        public var dotEndsInput: Bool
        /// `-F`: the display name of a generated `From:`.
        public var fullName: String?
        /// The most bytes the header block may take (EX_DATAERR beyond).
        public var headerLimit: Int

        public init(extractsRecipients: Bool = false, dotEndsInput: Bool = true, fullName: String? = nil, headerLimit: Int = 1 << 20) {
            self.extractsRecipients = extractsRecipients
            self.dotEndsInput = dotEndsInput
            self.fullName = fullName
            self.headerLimit = headerLimit
        }
    }

    /// What happened to the message.
    public struct Outcome: Hashable, Sendable {
        /// 2.0.0 when stored; else the failure's RFC 3463 code.
        public var statusCode: EnhancedStatusCode
        /// One line for standard error.
        public var reason: String
        /// The envelope recipients (command line, then headers with `-t`), known so far.
        public var recipients: [MailAddress]
        /// The queue id in the log and the `Received:` line.
        public var queueID: String
        /// The sysexits(3) status for the command.
        public var exitCode: Int32

        public var isDelivered: Bool { statusCode.statusClass == 2 }
    }

    /// Reads into the buffer; returns the count, 0 at the end of input.
    public typealias Reader = (UnsafeMutableRawBufferPointer) throws(DeliveryError) -> Int

    public let agent: LocalDeliveryAgent
    /// Decides about recipients in other domains when there is no ``queue``: the error to answer.
    public let remoteRecipients: @Sendable ([MailAddress]) -> DeliveryError
    /// The outbound queue for recipients in other domains; nil: they get ``remoteRecipients``'s error.
    public let queue: SendmailQueueOpener?

    /// Signs the message (DKIM) when its From: domain has a key; nil signs nothing.
    public let signer: (any OutgoingMessageSigner)?
    /// Where a signed message larger than 256 KiB waits while its signature is computed.
    public let spoolDirectory: String

    public init(
        agent: LocalDeliveryAgent, remoteRecipients: @escaping @Sendable ([MailAddress]) -> DeliveryError,
        queue: SendmailQueueOpener? = nil, signer: (any OutgoingMessageSigner)? = nil, spoolDirectory: String = "/tmp"
    ) {
        self.agent = agent
        self.remoteRecipients = remoteRecipients
        self.queue = queue
        self.signer = signer
        self.spoolDirectory = spoolDirectory
    }

    /// The domain a bare name (`root`, `-f www-data`) is given: the host name when it is a local domain,
    /// else `localhost` when that is local, else the host name (like Postfix's `myorigin`).
    public var bareNameDomain: String {
        let hostname = agent.configuration.hostname
        let directory = agent.directory
        if directory.isLocal(domain: hostname) || !directory.isLocal(domain: "localhost") { return hostname }
        return "localhost"
    }

    /// Reads standard input (or any descriptor) with ``run(sender:recipients:options:read:)``.
    public static func reader(descriptor: Int32) -> Reader {
        { (buffer: UnsafeMutableRawBufferPointer) throws(DeliveryError) -> Int in
            let count = SystemCall.restarting { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
            if count >= 0 { return count }
            throw DeliveryError(EnhancedStatusCode(4, 3, 0), "Cannot read the message: \(String(cString: strerror(errno)))")
        }
    }

    /// Delivers one message.
    /// - Parameters:
    ///   - sender: the envelope sender (Return-Path); nil is the null sender `<>`.
    ///   - recipients: the command line's; with `-t` the headers' are added. Empty without `-t` is EX_USAGE.
    public func run(sender: MailAddress?, recipients: [MailAddress], options: Options, read: Reader) -> Outcome {
        let queueID = agent.makeQueueID()
        var envelope = recipients
        func failure(_ error: DeliveryError, exitCode: Int32? = nil) -> Outcome {
            Outcome(statusCode: error.statusCode, reason: error.reason, recipients: envelope, queueID: queueID,
                exitCode: exitCode ?? DeliverCommand.exitCode(for: error.statusCode))
        }
        if !options.extractsRecipients {
            guard !recipients.isEmpty else {
                return failure(DeliveryError(EnhancedStatusCode(5, 5, 1), "No recipients: name them, or use -t"), exitCode: DeliverCommand.exitUsage)
            }
            // Refused before the message is read, as a later refusal would be the same.
            if case .failure(let error) = resolve(recipients) { return failure(error) }
        }

        let now = agent.clock.now()
        let offset = MailDateFormatter.localOffsetMinutes(at: now.seconds)
        let trace = TraceInfo(
            sessionID: "sendmail-" + queueID.lowercased(), queueID: queueID, protocolName: "local",
            hostname: agent.configuration.hostname, timeZoneOffsetMinutes: offset)
        var validator = MessageStreamValidator()
        var dots = options.dotEndsInput ? DotLineTerminator() : nil
        var collector = HeaderBlockCollector(limit: options.headerLimit)
        var transaction: Targets?
        // While signing, the message waits in a spool and goes into the transaction under its signature.
        var signing: (signature: any OutgoingSignature, spool: MessageSpool)?
        var filtered: [UInt8] = []
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }

        /// Once the header block is complete: the recipients, the completed headers, the transaction.
        func begin(_ split: HeaderBlockCollector.Split) throws(DeliveryError) -> Targets {
            var headers = SendmailHeaders(split.header)
            if options.extractsRecipients {
                let found = headers.recipients(defaultDomain: bareNameDomain)
                if let bad = found.invalid.first {
                    throw DeliveryError(EnhancedStatusCode(5, 6, 0), "Bad address in the header: \(bad)")
                }
                for address in found.addresses where !envelope.contains(where: { MailAddress.isCanonicallyEqual($0.canonical, address.canonical) }) {
                    envelope.append(address)
                }
                guard !envelope.isEmpty else {
                    throw DeliveryError(EnhancedStatusCode(5, 6, 0), "No recipients: the message has no To, Cc or Bcc address")
                }
            }
            headers.removeBlindCopies()
            let fromAddress = sender?.description ?? "MAILER-DAEMON@\(agent.configuration.hostname)"
            headers.addMissing(
                date: MailDateFormatter.format(seconds: now.seconds, offsetMinutes: offset),
                from: SendmailHeaders.fromValue(address: fromAddress, fullName: options.fullName),
                messageID: SendmailHeaders.messageID(random: agent.random, hostname: agent.configuration.hostname))
            let resolved = try resolve(envelope).get()
            var transaction = Targets()
            if !resolved.local.isEmpty {
                transaction.local = try agent.beginTransaction(reversePath: sender, recipients: resolved.local, trace: trace)
            }
            if !resolved.remote.isEmpty, let queue {
                do throws(DeliveryError) {
                    transaction.remote = try queue(sender, resolved.remote, trace, now)
                } catch {
                    transaction.abort()
                    throw error
                }
            }
            let separator: [UInt8] = split.needsSeparator ? [0x0A] : []
            if let signer, let signature = signer.beginSignature(header: headers.bytes) {
                let spool = MessageSpool(directory: spoolDirectory)
                spool.append(headers.bytes + separator + split.rest)
                signature.update(separator + split.rest)
                signing = (signature, spool)
                return transaction
            }
            do throws(DeliveryError) {
                try transaction.append(headers.bytes)
                if split.needsSeparator { try transaction.append([0x0A]) }
                try transaction.append(split.rest)
            } catch {
                transaction.abort()
                throw error
            }
            return transaction
        }

        /// Message bytes after the `.` rule: into the header block, then into the transaction.
        func consume(_ bytes: UnsafeRawBufferPointer) throws(DeliveryError) {
            if let signing {
                signing.signature.update(bytes)
                signing.spool.append(bytes)
            } else if let transaction {
                if bytes.count > 0 { try transaction.append(bytes) }
            } else if let split = try collector.append(bytes) {
                transaction = try begin(split)
            }
        }

        do throws(DeliveryError) {
            while dots?.hasEnded != true {
                let count = try read(buffer)
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                try validator.inspect(chunk)
                guard dots != nil else {
                    try consume(chunk)
                    continue
                }
                filtered.removeAll(keepingCapacity: true)
                dots?.filter(chunk, into: &filtered)
                let result: Result<Void, DeliveryError> = filtered.withUnsafeBytes { pointer in
                    Result { () throws(DeliveryError) in try consume(pointer) }
                }
                try result.get()
            }
            try validator.finish()
            dots?.finish()
            if transaction == nil { transaction = try begin(try collector.finish()) }
            if let signing, let open = transaction {
                let fields = signing.signature.finish()
                if !fields.isEmpty { try open.append(fields) }
                try signing.spool.replay { (chunk: [UInt8]) throws(DeliveryError) in try open.append(chunk) }
            }
        } catch {
            transaction?.abort()
            return failure(error)
        }
        guard let transaction else { return failure(DeliveryError(EnhancedStatusCode(4, 3, 0), "No transaction")) }
        if let error = transaction.commit() { return failure(error) }
        agent.logSink.log(LogRecord(.info, "sendmail.accepted", session: trace.sessionID, [
            ("queue", queueID), ("from", sender?.description ?? "<>"), ("recipients", String(envelope.count)), ("uid", String(getuid())),
        ]))
        return Outcome(statusCode: EnhancedStatusCode(2, 0, 0), reason: "Delivered", recipients: envelope, queueID: queueID, exitCode: DeliverCommand.exitOK)
    }

    /// Local recipients resolved to mailboxes, and recipients in other domains (for the queue).
    struct Resolved {
        var local: [ResolvedRecipient]
        var remote: [MailAddress]
    }

    /// Where the message goes: a local transaction, a queue draft, or both; committed local first.
    struct Targets {
        var local: DeliveryTransaction?
        var remote: (any SendmailQueueDraft)?

        func append(_ bytes: UnsafeRawBufferPointer) throws(DeliveryError) {
            try local?.append(bytes)
            try remote?.append(bytes)
        }

        func append(_ bytes: [UInt8]) throws(DeliveryError) {
            let result: Result<Void, DeliveryError> = bytes.withUnsafeBytes { pointer in
                Result { () throws(DeliveryError) in try append(pointer) }
            }
            try result.get()
        }

        func abort() {
            local?.abort()
            remote?.abort()
        }

        /// Local first: a local refusal (a loop, a size limit) then stops the whole message before anything is
        /// queued. A queue failure after a local success is a temporary error, and the caller's retry may
        /// deliver locally twice: a duplicate, never a loss (as for SMTP).
        func commit() -> DeliveryError? {
            if let local {
                let result = local.commit()
                guard result.overall.isDelivered else {
                    remote?.abort()
                    return DeliveryError(result.overall.statusCode, result.overall.reason)
                }
            }
            if let remote {
                do throws(DeliveryError) {
                    try remote.commit()
                } catch {
                    return error
                }
            }
            return nil
        }
    }

    /// Resolves every recipient. A permanent refusal (no such user, bad address, alias loop) wins over
    /// recipients in other domains, which go to the ``queue`` (or get ``remoteRecipients``'s error without
    /// one): nothing is delivered unless all can be.
    func resolve(_ recipients: [MailAddress]) -> Result<Resolved, DeliveryError> {
        var resolved: [ResolvedRecipient] = []
        var remote: [MailAddress] = []
        for address in recipients {
            let resolution = agent.resolve(address)
            switch resolution {
            case .local(let mailboxes):
                resolved.append(ResolvedRecipient(address: address, mailboxes: mailboxes))
            case .relayDenied:
                remote.append(address)
            case .unknownUser, .invalidAddress, .aliasLoop:
                return .failure(DeliveryError(resolution.statusCode, "\(resolution.reason): \(LogRecord.escape(address.description))"))
            }
        }
        if !remote.isEmpty, queue == nil { return .failure(remoteRecipients(remote)) }
        return .success(Resolved(local: resolved, remote: remote))
    }
}
