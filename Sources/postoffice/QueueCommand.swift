// QueueCommand: `postoffice queue list|show|hold|release|requeue|delete|flush` — the outbound queue for an
// operator, through QueueAdministration. Safe while the server runs: each change locks the one message.
// Exit status: 0 done, 1 no such message (or the queue cannot be read), 64 (EX_USAGE) a bad command line.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

struct QueueCommand {
    let options: CommandLineOptions
    let words: [String]

    /// sysexits(3) EX_USAGE: a malformed ID, a missing or extra argument, an unknown action.
    static let exitUsage: Int32 = 64

    static let help = """
        Usage: postoffice queue list [--json]          the queue, like mailq: each message and its recipients
               postoffice queue show ID                envelope, state and headers of one message
               postoffice queue hold ID                keep a message, but do not try it until released
               postoffice queue release ID             let a held message be tried again
               postoffice queue requeue ID             make its waiting recipients due now (a failed message
                                                       goes back to the queue, its failed recipients pending)
               postoffice queue delete ID              remove a message for good (no bounce is sent)
               postoffice queue flush [DOMAIN]         make every message waiting for a later attempt due now
                                                       and have the running server try it at once (only
                                                       those with recipients in DOMAIN, when given)
          (with --data DIR / --config FILE as for serve)

        The outbound queue (queue_directory, default DATA/queue) holds mail for other domains when
        deliver_outbound is on. These commands are safe while the server runs: each change locks the one
        message it changes. flush reaches the running server through its control socket (control_socket,
        default DATA/control.sock), which tries the mail at once; when no server answers there it makes the
        mail due in the queue files and says so. A requeued message is tried at the server's next scan
        of the queue. IDs are the hex strings `queue list` shows.
        list --json prints one JSON document: {"queue_directory", "messages": [{"id", "location" (active or
        failed), "held", "arrival" (RFC 3339, UTC), "size", "sender" ("" for <>), "envelope_id", "recipients":
        [{"address", "status" (pending, deferred, delivered, failed), "attempts", "next_attempt",
        "last_attempt", "status_code", "reply"}]}]}.

        Exit status: 0 done, 1 no such message or the queue cannot be read, 64 bad command line or ID.

        Examples:
          postoffice queue list --data /var/lib/postoffice
          postoffice queue list --json | jq '.messages[] | select(.held)'
          postoffice queue show 18bcfe568a1b2c3d4e5f60718a
          postoffice queue hold 18bcfe568a1b2c3d4e5f60718a
          postoffice queue flush example.org
        """

    /// A bad queue command line: printed as one line, exit 64.
    private struct QueueUsage: Error, CustomStringConvertible {
        let description: String
    }

    func run() throws -> Int32 {
        do {
            return try perform()
        } catch let error as QueueUsage {
            printError("postoffice: \(error) (see postoffice queue --help)")
            return Self.exitUsage
        } catch let error as QueueAdministration.InvalidID {
            printError("postoffice: \(error)")
            return Self.exitUsage
        } catch let error as QueueAdministration.NotFound {
            printError("postoffice: \(error) (delivered, deleted or never queued: see postoffice queue list)")
            return 1
        }
    }

    private func perform() throws -> Int32 {
        var words = self.words
        let json = words.contains("--json")
        words.removeAll { $0 == "--json" }
        guard let action = words.first else { throw QueueUsage(description: "queue needs list, show, hold, release, requeue, delete or flush") }
        let arguments = Array(words.dropFirst())
        guard !json || action == "list" else { throw QueueUsage(description: "--json belongs to queue list") }
        func id() throws -> String {
            guard arguments.count == 1 else { throw QueueUsage(description: "queue \(action) needs exactly one ID") }
            guard QueueAdministration.isValidID(arguments[0]) else {
                throw QueueAdministration.InvalidID(text: arguments[0])
            }
            return arguments[0]
        }
        switch action {
        case "list":
            guard arguments.isEmpty else { throw QueueUsage(description: "queue list takes no arguments besides --json") }
            let queue = try open()
            let messages = try queue.list()
            if json {
                print(QueueFormatting.json(messages, directory: queue.path))
            } else {
                for line in QueueFormatting.table(messages) { print(line) }
            }
        case "show":
            let id = try id()
            let queue = try open()
            let message = try queue.message(id)
            for line in QueueFormatting.detail(message, headers: try queue.headers(id)) { print(line) }
        case "hold":
            let message = try open().hold(try id())
            print("held \(message.id): kept, not tried until `postoffice queue release \(message.id)`")
        case "release":
            let message = try open().release(try id())
            print("released \(message.id)")
        case "requeue":
            let message = try open().requeue(try id())
            let due = message.recipients.filter { $0.nextAttempt != nil }.count
            print("requeued \(message.id): \(due) recipient\(due == 1 ? "" : "s") due now\(message.isHeld ? " (still held)" : "");"
                + " the running server tries \(due == 1 ? "it" : "them") at its next queue scan")
        case "delete":
            let id = try id()
            try open().delete(id)
            print("deleted \(id.lowercased()) (no bounce sent)")
        case "flush":
            guard arguments.count <= 1 else { throw QueueUsage(description: "queue flush takes at most one DOMAIN") }
            if let domain = arguments.first, domain.isEmpty || domain.contains("@") || domain.hasPrefix("-") {
                throw QueueUsage(description: "'\(domain)' is not a domain (queue flush example.org)")
            }
            if let reply = try flushThroughServer(domain: arguments.first) {
                guard reply.isSuccess else {
                    printError("postoffice: the running server refused the flush: \(reply.text)")
                    return 1
                }
                print("asked the running server: \(reply.text)")
                return 0
            }
            let result = try open().flush(domain: arguments.first)
            let scope = arguments.first.map { " with recipients in \($0)" } ?? ""
            let count = result.requeued.count
            print("no server answers on the control socket: editing the queue directly")
            if count == 0 {
                print("no message\(scope) is waiting for a later attempt")
            } else {
                print("made \(count) message\(count == 1 ? "" : "s")\(scope) due now: a server started later tries them at its first queue scan")
                for id in result.requeued { print("  \(id)") }
            }
            for id in result.held { print("left \(id) alone: it is held (queue release \(id))") }
            for id in result.withFailures {
                print("left \(id) alone: a recipient failed for good; `queue requeue \(id)` would try that one again too")
            }
        default:
            throw QueueUsage(description: "unknown queue action '\(action)': use list, show, hold, release, requeue, delete or flush")
        }
        return 0
    }

    /// Asks the running server (through its control socket) to flush; nil when no server answers there.
    private func flushThroughServer(domain: String?) throws -> ControlReply? {
        let setup = Setup(options: options)
        try setup.requireDataDirectory()
        guard let path = try setup.configuration().controlSocketPath else { return nil }
        return ControlRequest.flush(domain: domain).send(to: path)
    }

    /// The configured queue, as run_as_user when started as root (files the server must keep writing stay
    /// its own).
    private func open() throws -> QueueAdministration {
        let setup = Setup(options: options)
        try setup.requireDataDirectory()
        let configuration = try setup.configuration()
        if let user = configuration.runAsUser, geteuid() == 0 { try Privileges.drop(to: user) }
        return try QueueAdministration(configuration: configuration, logSink: StandardErrorLogSink(minimumLevel: .warning))
    }
}
