// POP3TestSession: drives a POP3ServerStateMachine in memory and renders its actions as transcript
// lines ("S: ..." for bytes on the wire, "A: ..." for requests to the runtime), shared by the tests.
import PostOfficeCore
@testable import PostOfficePOP3

struct POP3TestSession {
    var machine: POP3ServerStateMachine

    static let messages = [
        POP3MessageInfo(uniqueID: "uid-one", octets: 120, storageKey: "key-1"),
        POP3MessageInfo(uniqueID: "uid-two", octets: 200, storageKey: "key-2"),
        POP3MessageInfo(uniqueID: "uid-three", octets: 30, storageKey: "key-3"),
    ]

    static func configuration(plaintext: Bool = true) -> POP3ServerConfiguration {
        var configuration = POP3ServerConfiguration(hostname: "mail.example", limits: Limits())
        configuration.allowsPlaintextAuthentication = plaintext
        return configuration
    }

    init(configuration: POP3ServerConfiguration = Self.configuration()) {
        machine = POP3ServerStateMachine(configuration: configuration)
    }

    /// A started session, logged in with `messages`.
    static func loggedIn(_ messages: [POP3MessageInfo] = Self.messages) -> POP3TestSession {
        var session = POP3TestSession()
        _ = session.machine.start()
        _ = session.line("USER alice")
        _ = session.line("PASS secret")
        _ = session.machine.authenticationFinished(.success(messages))
        return session
    }

    mutating func start() -> [String] { Self.render(machine.start()) }

    mutating func line(_ text: String) -> [String] {
        Self.render(machine.receive(Array((text + "\r\n").utf8)))
    }

    mutating func bytes(_ bytes: [UInt8]) -> [String] { Self.render(machine.receive(bytes)) }

    static func render(_ actions: [POP3Action]) -> [String] {
        actions.flatMap { action -> [String] in
            switch action {
            case .send, .sendMultiline:
                let text = String(decoding: action.wireBytes ?? [], as: UTF8.self)
                // "\r\n" is one Character in Swift, so this splits exactly at line ends.
                var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
                lines.removeLast()
                return lines.map { "S: " + $0 }
            case .authenticate(let user, let password):
                return ["A: authenticate \(user) \(password)"]
            case .authenticateAPOP(let user, let timestamp, let digest):
                return ["A: apop \(user) \(timestamp) \(digest)"]
            case .sendMessage(let key, let octets, let limit):
                return ["A: send \(key) \(octets) \(limit.map(String.init) ?? "all")"]
            case .commit(let deleted, let retrieved):
                return ["A: commit deleted=[\(deleted.joined(separator: ","))] retrieved=[\(retrieved.joined(separator: ","))]"]
            case .close:
                return ["A: close"]
            case .startTLS:
                return ["A: starttls"]
            }
        }
    }
}
