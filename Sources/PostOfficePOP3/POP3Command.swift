// POP3Command: one parsed client command line. Parsing checks syntax only (keyword, argument count and
// form); whether a command fits the session state or the maildrop is the state machine's business.

/// A POP3 command ([RFC 1939](https://www.rfc-editor.org/rfc/rfc1939), [RFC 2449](https://www.rfc-editor.org/rfc/rfc2449),
/// [RFC 5034](https://www.rfc-editor.org/rfc/rfc5034), [RFC 2595](https://www.rfc-editor.org/rfc/rfc2595)).
/// Message numbers too large for `Int` parse as `Int.max` (no maildrop is that large, so they are "no such
/// message"); line counts too large for `Int` parse as `Int.max` (the whole body).
public enum POP3Command: Hashable, Sendable {
    /// `USER name` ([RFC 1939 §7](https://www.rfc-editor.org/rfc/rfc1939#page-13)).
    case user(String)
    /// The password is everything after `PASS `, spaces included (RFC 1939 §7 allows this).
    case pass(String)
    /// `APOP name digest` ([RFC 1939 §7](https://www.rfc-editor.org/rfc/rfc1939#page-15)); digest lower-cased.
    case apop(user: String, digest: String)
    /// `AUTH [mechanism [initial-response]]` ([RFC 5034 §4](https://www.rfc-editor.org/rfc/rfc5034#section-4)).
    /// `AUTH` alone lists mechanisms (RFC 1734 style); `initialResponse` is the raw base64 text (`=` for empty).
    case auth(mechanism: String?, initialResponse: String?)
    /// `STLS` ([RFC 2595 §4](https://www.rfc-editor.org/rfc/rfc2595#section-4)).
    case stls
    /// `CAPA` ([RFC 2449 §5](https://www.rfc-editor.org/rfc/rfc2449#section-5)).
    case capa
    /// `STAT` ([RFC 1939 §5](https://www.rfc-editor.org/rfc/rfc1939#section-5)).
    case stat
    /// `LIST [msg]`.
    case list(Int?)
    /// `RETR msg`.
    case retr(Int)
    /// `DELE msg`.
    case dele(Int)
    /// `NOOP`.
    case noop
    /// `RSET`.
    case rset
    /// `QUIT` ([RFC 1939 §6](https://www.rfc-editor.org/rfc/rfc1939#section-6) in TRANSACTION).
    case quit
    /// `TOP msg n` ([RFC 1939 §7](https://www.rfc-editor.org/rfc/rfc1939#page-11)).
    case top(Int, lines: Int)
    /// `UIDL [msg]` ([RFC 1939 §7](https://www.rfc-editor.org/rfc/rfc1939#page-12)).
    case uidl(Int?)

    /// Parses a command line without its CRLF. Keywords are case-insensitive; arguments are separated by
    /// spaces (runs of spaces tolerated, except inside the PASS argument).
    public init(parsing line: [UInt8]) throws(POP3CommandError) {
        let space = UInt8(ascii: " ")
        let keywordEnd = line.firstIndex(of: space) ?? line.count
        guard keywordEnd > 0 else { throw line.isEmpty ? .emptyCommand : .unknownCommand }
        guard keywordEnd <= 4 else { throw .unknownCommand }
        // The keyword's upper-case letters packed into an integer: one comparison per candidate, no String
        // (this runs for every RETR).
        var keyword: UInt32 = 0
        for byte in line[..<keywordEnd] {
            guard let letter = Self.upperCaseLetter(byte) else { throw .unknownCommand }
            keyword = keyword << 8 | UInt32(letter)
        }
        // Slices of the line, not copies.
        let rest = keywordEnd < line.count ? line[(keywordEnd + 1)...] : line[line.count...]
        let arguments = rest.split(separator: space, omittingEmptySubsequences: true)

        switch keyword {
        case Keyword.user:
            guard arguments.count >= 1 else { throw .missingArgument }
            guard arguments.count == 1 else { throw .tooManyArguments }
            self = .user(try Self.text(arguments[0]))
        case Keyword.pass:
            // The password is the rest of the line after one space, so passwords may contain spaces.
            guard !rest.isEmpty else { throw .missingArgument }
            self = .pass(try Self.text(rest))
        case Keyword.apop:
            guard arguments.count >= 2 else { throw .missingArgument }
            guard arguments.count == 2 else { throw .tooManyArguments }
            let digest = arguments[1]
            guard digest.count == 32, digest.allSatisfy(Self.isHexDigit) else { throw .invalidArgument }
            self = .apop(user: try Self.text(arguments[0]), digest: String(decoding: digest, as: UTF8.self).lowercased())
        case Keyword.auth:
            guard arguments.count <= 2 else { throw .tooManyArguments }
            var mechanism: String?
            var initial: String?
            if arguments.count >= 1 { mechanism = try Self.text(arguments[0]).uppercased() }
            if arguments.count == 2 { initial = try Self.text(arguments[1]) }
            self = .auth(mechanism: mechanism, initialResponse: initial)
        case Keyword.stls: try Self.noArguments(arguments); self = .stls
        case Keyword.capa: try Self.noArguments(arguments); self = .capa
        case Keyword.stat: try Self.noArguments(arguments); self = .stat
        case Keyword.noop: try Self.noArguments(arguments); self = .noop
        case Keyword.rset: try Self.noArguments(arguments); self = .rset
        case Keyword.quit: try Self.noArguments(arguments); self = .quit
        case Keyword.list:
            guard arguments.count <= 1 else { throw .tooManyArguments }
            self = .list(arguments.isEmpty ? nil : try Self.messageNumber(arguments[0]))
        case Keyword.uidl:
            guard arguments.count <= 1 else { throw .tooManyArguments }
            self = .uidl(arguments.isEmpty ? nil : try Self.messageNumber(arguments[0]))
        case Keyword.retr:
            self = .retr(try Self.messageNumber(Self.single(arguments)))
        case Keyword.dele:
            self = .dele(try Self.messageNumber(Self.single(arguments)))
        case Keyword.top:
            guard arguments.count >= 2 else { throw .missingArgument }
            guard arguments.count == 2 else { throw .tooManyArguments }
            let number = try Self.messageNumber(arguments[0])
            guard let lines = Self.decimal(arguments[1]) else { throw .invalidLineCount }
            self = .top(number, lines: lines)
        default:
            throw .unknownCommand
        }
    }

    /// The keywords packed as the parser packs them (each letter a byte, the first one highest).
    private enum Keyword {
        static let user = POP3Command.keyword("USER")
        static let pass = POP3Command.keyword("PASS")
        static let apop = POP3Command.keyword("APOP")
        static let auth = POP3Command.keyword("AUTH")
        static let stls = POP3Command.keyword("STLS")
        static let capa = POP3Command.keyword("CAPA")
        static let stat = POP3Command.keyword("STAT")
        static let noop = POP3Command.keyword("NOOP")
        static let rset = POP3Command.keyword("RSET")
        static let quit = POP3Command.keyword("QUIT")
        static let list = POP3Command.keyword("LIST")
        static let uidl = POP3Command.keyword("UIDL")
        static let retr = POP3Command.keyword("RETR")
        static let dele = POP3Command.keyword("DELE")
        static let top = POP3Command.keyword("TOP")
    }

    /// A keyword of up to four upper-case ASCII letters packed as the parser packs it.
    private static func keyword(_ text: StaticString) -> UInt32 {
        text.withUTF8Buffer { $0.reduce(0) { $0 << 8 | UInt32($1) } }
    }

    private static func upperCaseLetter(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - 32
        default: return nil
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default: return false
        }
    }

    private static func noArguments(_ arguments: [ArraySlice<UInt8>]) throws(POP3CommandError) {
        guard arguments.isEmpty else { throw .tooManyArguments }
    }

    private static func single(_ arguments: [ArraySlice<UInt8>]) throws(POP3CommandError) -> ArraySlice<UInt8> {
        guard arguments.count >= 1 else { throw .missingArgument }
        guard arguments.count == 1 else { throw .tooManyArguments }
        return arguments[0]
    }

    /// Strict UTF-8 without control characters: NUL or other controls in a name or password are never genuine.
    private static func text(_ bytes: ArraySlice<UInt8>) throws(POP3CommandError) -> String {
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else { throw .invalidArgument }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
        return string
    }

    /// Digits only; values past `Int.max` saturate.
    private static func decimal(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            value = overflow1 || overflow2 ? Int.max : sum
        }
        return value
    }

    private static func messageNumber(_ bytes: ArraySlice<UInt8>) throws(POP3CommandError) -> Int {
        guard let value = decimal(bytes), value >= 1 else { throw .invalidMessageNumber }
        return value
    }
}
