// PlainCredentialsTests: the RFC 4616 message parsed and serialised, and the structures it must refuse.
import Testing

@testable import PostOfficeSASL

@Suite struct PlainCredentialsTests {
    @Test(arguments: [
        ("\0alice\0secret", PlainCredentials(authenticationIdentity: "alice", password: "secret")),
        ("admin\0alice\0pass word", PlainCredentials(authorizationIdentity: "admin", authenticationIdentity: "alice", password: "pass word")),
        ("\0\0", PlainCredentials(authenticationIdentity: "", password: "")),
        ("\0jörg\0pässwörd", PlainCredentials(authenticationIdentity: "jörg", password: "pässwörd")),
    ])
    func parsesAndSerialises(message: String, credentials: PlainCredentials) throws {
        #expect(try PlainCredentials(parsing: Array(message.utf8)) == credentials)
        #expect(credentials.message == Array(message.utf8))
    }

    @Test(arguments: [Array("".utf8), Array("alice".utf8), Array("\0alice".utf8), Array("\0alice\0pa\0ss".utf8),
        [0, 0x61, 0, 0xFF], [0xC3, 0, 0x61, 0, 0x62]])
    func rejectsMalformed(message: [UInt8]) {
        #expect(throws: SASLFailure.malformedMessage) { try PlainCredentials(parsing: message) }
    }

    @Test func mechanismNamesAreCaseInsensitive() {
        #expect(SASLMechanism(name: "plain") == .plain)
        #expect(SASLMechanism(name: "Login") == .login)
        #expect(SASLMechanism(name: "CRAM-MD5") == nil)
        #expect(SASLMechanism.allCases.map(\.name) == ["PLAIN", "LOGIN"])
    }
}
