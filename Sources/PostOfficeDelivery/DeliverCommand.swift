// DeliverCommand: the logic of `postoffice deliver`, a local delivery agent for pipes (like dovecot-lda or
// Postfix's local): reads one message on standard input and stores it, answering with sysexits codes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// `postoffice deliver [-f SENDER] [--] RECIPIENT...`
///
/// Reads an RFC 5322 message with LF or CRLF line endings from standard input, streaming it (memory stays
/// flat), and delivers it to every recipient with the all-or-nothing rule of ``DeliveryTransaction``.
/// Both line-ending forms give the same stored bytes. Exit codes follow sysexits(3):
/// 0 delivered, 64 usage, 65 data error (empty, NUL byte, mail loop, too big), 67 no such user, 75 try later,
/// 77 over quota (EX_NOPERM, as `dovecot-lda -e`).
/// The `postoffice` tool adds 78 (EX_CONFIG) before this runs, for a missing data folder or users file:
/// without them every recipient would look unknown, and 67 makes the MTA bounce the mail for good.
public enum DeliverCommand {
    public static let exitOK: Int32 = 0
    public static let exitUsage: Int32 = 64
    public static let exitDataError: Int32 = 65
    public static let exitNoUser: Int32 = 67
    public static let exitTemporaryFailure: Int32 = 75
    /// EX_NOPERM: the mailbox is over quota (5.2.2), as `dovecot-lda -e` exits with `quota_full_tempfail = no`.
    public static let exitOverQuota: Int32 = 77
    /// EX_CONFIG: the setup is broken (MTAs such as Postfix retry later). Not returned by ``run(arguments:standardInput:agent:standardError:)``.
    public static let exitConfigurationError: Int32 = 78

    public static let usage = "usage: postoffice deliver [--data DIR] [-f sender] [--] recipient... (see postoffice deliver --help)"

    /// The parsed command line.
    public struct Arguments: Hashable, Sendable {
        /// nil is the null reverse-path.
        public var reversePath: MailAddress?
        public var recipients: [MailAddress]
    }

    /// Parses the arguments after `deliver`; returns an error message for bad usage.
    public static func parse(_ arguments: [String]) -> Result<Arguments, UsageError> {
        var reversePath: MailAddress?
        var recipients: [MailAddress] = []
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if !optionsEnded && (argument == "-f" || argument == "--from" || argument == "-d") {
                guard index < arguments.count else { return .failure(UsageError("\(argument) needs a value")) }
                let value = arguments[index]
                index += 1
                if argument == "-d" {
                    guard let address = address(value) else { return .failure(UsageError("not an address: \(value)")) }
                    recipients.append(address)
                } else if value.isEmpty || value == "<>" {
                    reversePath = nil
                } else {
                    guard let address = address(value) else { return .failure(UsageError("not an address: \(value)")) }
                    reversePath = address
                }
            } else if !optionsEnded && argument == "--" {
                optionsEnded = true
            } else if !optionsEnded && argument.hasPrefix("-") && argument.count > 1 {
                return .failure(UsageError("unknown option \(argument)"))
            } else {
                guard let address = address(argument) else { return .failure(UsageError("not an address: \(argument)")) }
                recipients.append(address)
            }
        }
        guard !recipients.isEmpty else { return .failure(UsageError("no recipient")) }
        return .success(Arguments(reversePath: reversePath, recipients: recipients))
    }

    /// A command line mistake.
    public struct UsageError: Error, Hashable, Sendable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }

    private static func address(_ text: String) -> MailAddress? {
        var value = Substring(text)
        if value.hasPrefix("<") && value.hasSuffix(">") && value.count >= 2 { value = value.dropFirst().dropLast() }
        return MailAddress(String(value))
    }

    /// Runs the command: parses `arguments` (those after `deliver`), reads the message from `standardInput`,
    /// delivers it, writes one diagnostic line to `standardError` on failure, and returns the exit code.
    public static func run(
        arguments: [String], standardInput: Int32, agent: LocalDeliveryAgent, standardError: Int32 = STDERR_FILENO
    ) -> Int32 {
        let parsed: Arguments
        switch parse(arguments) {
        case .failure(let error):
            report("\(error.message)\n\(usage)", to: standardError)
            return exitUsage
        case .success(let value):
            parsed = value
        }
        let now = agent.clock.now()
        let queueID = agent.makeQueueID()
        let trace = TraceInfo(
            sessionID: "deliver-" + queueID.lowercased(), queueID: queueID, protocolName: "local",
            hostname: agent.configuration.hostname,
            timeZoneOffsetMinutes: MailDateFormatter.localOffsetMinutes(at: now.seconds))
        let transaction: DeliveryTransaction
        do {
            transaction = try agent.beginTransaction(
                reversePath: parsed.reversePath, recipients: parsed.recipients, trace: trace)
        } catch {
            report("\(error.statusCode) \(error.reason)", to: standardError)
            return exitCode(for: error.statusCode)
        }

        var validator = MessageStreamValidator()
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        do throws(DeliveryError) {
            while true {
                let count = SystemCall.restarting { read(standardInput, buffer, bufferSize) }
                if count < 0 {
                    let message = String(cString: strerror(errno))
                    throw DeliveryError(EnhancedStatusCode(4, 3, 0), "Cannot read the message: \(message)")
                }
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(start: buffer, count: count)
                try validator.inspect(chunk)
                try transaction.append(chunk)
            }
            try validator.finish()
        } catch {
            transaction.abort()
            report("\(error.statusCode) \(error.reason)", to: standardError)
            return exitCode(for: error.statusCode)
        }
        let result = transaction.commit()
        guard result.overall.isDelivered else {
            report("\(result.overall.statusCode) \(result.overall.reason)", to: standardError)
            return exitCode(for: result.overall.statusCode)
        }
        return exitOK
    }

    /// sysexits code for a failure: 4.x.x → 75 (4.2.2 over quota with `quota_full_tempfail = yes` too),
    /// 5.2.2 over quota → 77, 5.1.x and 5.7.1 (not local) → 67, other 5.x.x → 65.
    public static func exitCode(for code: EnhancedStatusCode) -> Int32 {
        if code.statusClass == 2 { return exitOK }
        if code.isTemporary { return exitTemporaryFailure }
        if code == EnhancedStatusCode(5, 2, 2) { return exitOverQuota }
        return code.subject == 1 || (code.subject == 7 && code.detail == 1) ? exitNoUser : exitDataError
    }

    private static func report(_ message: String, to descriptor: Int32) {
        let line = Array("postoffice deliver: \(message)\n".utf8)
        line.withUnsafeBytes { pointer in
            guard let base = pointer.baseAddress else { return }
            var offset = 0
            while offset < pointer.count {
                let n = SystemCall.restarting { write(descriptor, base + offset, pointer.count - offset) }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
