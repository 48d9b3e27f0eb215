// POP3CommandTests: the command parser against tables of valid lines and of invalid lines with the
// error each must produce.
import Testing
@testable import PostOfficePOP3

@Suite struct POP3CommandTests {
    static let valid: [(String, POP3Command)] = [
        ("USER alice", .user("alice")),
        ("user alice", .user("alice")),
        ("PASS secret", .pass("secret")),
        ("PASS pass with  spaces ", .pass("pass with  spaces ")),
        ("APOP mrose c4c9334bac560ecc979e58001b3e22fb", .apop(user: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb")),
        ("APOP mrose C4C9334BAC560ECC979E58001B3E22FB", .apop(user: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb")),
        ("AUTH", .auth(mechanism: nil, initialResponse: nil)),
        ("AUTH plain", .auth(mechanism: "PLAIN", initialResponse: nil)),
        ("AUTH PLAIN AGFsaWNlAHNlY3JldA==", .auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHNlY3JldA==")),
        ("AUTH PLAIN =", .auth(mechanism: "PLAIN", initialResponse: "=")),
        ("STLS", .stls), ("CAPA", .capa), ("capa", .capa), ("CaPa", .capa),
        ("STAT", .stat), ("NOOP", .noop), ("RSET", .rset), ("QUIT", .quit),
        ("STAT ", .stat),
        ("LIST", .list(nil)), ("LIST 1", .list(1)), ("LIST  2", .list(2)), ("LIST 007", .list(7)),
        ("UIDL", .uidl(nil)), ("UIDL 3", .uidl(3)),
        ("RETR 1", .retr(1)), ("DELE 12", .dele(12)),
        ("RETR 99999999999999999999999999", .retr(Int.max)),
        ("TOP 1 0", .top(1, lines: 0)), ("TOP 2 10", .top(2, lines: 10)),
        ("TOP 1 99999999999999999999999999", .top(1, lines: Int.max)),
    ]

    @Test(arguments: valid)
    func parsesValidLine(line: String, expected: POP3Command) throws {
        #expect(try POP3Command(parsing: Array(line.utf8)) == expected)
    }

    static let invalid: [([UInt8], POP3CommandError)] = [
        (Array("".utf8), .emptyCommand),
        (Array(" ".utf8), .unknownCommand),
        (Array(" STAT".utf8), .unknownCommand),
        (Array("XYZZY".utf8), .unknownCommand),
        (Array("FOO".utf8), .unknownCommand),
        (Array("ST4T".utf8), .unknownCommand),
        ([0xFF, 0xFE, 0x00, 0x01], .unknownCommand),
        ([0x53, 0x54, 0x41, 0x00], .unknownCommand),
        (Array("USER".utf8), .missingArgument),
        (Array("USER ".utf8), .missingArgument),
        (Array("USER a b".utf8), .tooManyArguments),
        (Array("PASS".utf8), .missingArgument),
        ([0x55, 0x53, 0x45, 0x52, 0x20, 0x61, 0x00, 0x62], .invalidArgument),
        ([0x50, 0x41, 0x53, 0x53, 0x20, 0xC3, 0x28], .invalidUTF8),
        (Array("APOP mrose".utf8), .missingArgument),
        (Array("APOP mrose nothex".utf8), .invalidArgument),
        (Array("APOP mrose c4c9334bac560ecc979e58001b3e22fz".utf8), .invalidArgument),
        (Array("APOP a b c".utf8), .tooManyArguments),
        (Array("AUTH PLAIN x y".utf8), .tooManyArguments),
        (Array("STAT 1".utf8), .tooManyArguments),
        (Array("NOOP x".utf8), .tooManyArguments),
        (Array("QUIT now".utf8), .tooManyArguments),
        (Array("LIST 1 2".utf8), .tooManyArguments),
        (Array("LIST 0".utf8), .invalidMessageNumber),
        (Array("LIST -1".utf8), .invalidMessageNumber),
        (Array("LIST one".utf8), .invalidMessageNumber),
        (Array("LIST 1x".utf8), .invalidMessageNumber),
        (Array("LIST +1".utf8), .invalidMessageNumber),
        (Array("UIDL 0".utf8), .invalidMessageNumber),
        (Array("RETR".utf8), .missingArgument),
        (Array("RETR 0".utf8), .invalidMessageNumber),
        (Array("RETR -5".utf8), .invalidMessageNumber),
        (Array("RETR 1 2".utf8), .tooManyArguments),
        (Array("DELE abc".utf8), .invalidMessageNumber),
        (Array("DELE".utf8), .missingArgument),
        (Array("TOP 1".utf8), .missingArgument),
        (Array("TOP".utf8), .missingArgument),
        (Array("TOP 1 -1".utf8), .invalidLineCount),
        (Array("TOP 1 x".utf8), .invalidLineCount),
        (Array("TOP 0 1".utf8), .invalidMessageNumber),
        (Array("TOP 1 2 3".utf8), .tooManyArguments),
    ]

    @Test(arguments: invalid)
    func rejectsInvalidLine(line: [UInt8], expected: POP3CommandError) {
        #expect(throws: expected) { try POP3Command(parsing: line) }
    }

    @Test func everyErrorMapsToAnErrorResponse() {
        let errors: [POP3CommandError] = [
            .emptyCommand, .unknownCommand, .missingArgument, .tooManyArguments, .invalidMessageNumber,
            .invalidLineCount, .invalidArgument, .invalidUTF8,
        ]
        for error in errors {
            #expect(!error.response.isOK)
        }
        #expect(Set(errors.map(\.response.text)).count == errors.count)
    }
}
