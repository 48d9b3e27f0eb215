// SPFMacroString: the RFC 7208 §7 macro language, parsed once (syntax errors are permerror before any
// evaluation, §4.6) and expanded per use. Expansion takes its values from the evaluation through a closure,
// because %{p} needs DNS answers and only the evaluation can ask for them.

/// A parsed macro-string or explain-string ([RFC 7208 §7.1](https://www.rfc-editor.org/rfc/rfc7208#section-7.1)).
struct SPFMacroString: Hashable, Sendable {
    enum Part: Hashable, Sendable {
        case literal(String)
        /// `%{letter digits r delimiters}`; an upper-case letter asks for URL-escaping (§7.3).
        case macro(letter: Character, escape: Bool, keep: Int?, reverse: Bool, delimiters: [Character])
    }

    struct SyntaxError: Error {
        var reason: String
    }

    var parts: [Part]

    /// True when the string contains a macro (a domain-spec may then end in one instead of a top label).
    var endsInMacro: Bool {
        if case .macro = parts.last { return true }
        return false
    }

    /// Parses `text`. `explanation` allows the c, r and t letters and spaces (explain-string, §6.2 and §7.1).
    init(parsing text: String, explanation: Bool = false) throws(SyntaxError) {
        var parts: [Part] = []
        var literal = ""
        var characters = Array(text.unicodeScalars)[...]
        while let scalar = characters.popFirst() {
            guard scalar == "%" else {
                // macro-literal = %x21-24 / %x26-7E; explain-string also allows SP.
                guard (0x21...0x7e).contains(scalar.value) || (explanation && scalar == " ") else {
                    throw SyntaxError(reason: "invalid character in macro-string")
                }
                literal.unicodeScalars.append(scalar)
                continue
            }
            switch characters.popFirst() {
            case "%": literal += "%"
            case "_": literal += " "
            case "-": literal += "%20"
            case "{":
                guard let letterScalar = characters.popFirst() else { throw SyntaxError(reason: "unterminated macro") }
                let letter = Character(String(letterScalar).lowercased())
                let allowed: Set<Character> = explanation ? ["s", "l", "o", "d", "i", "p", "h", "v", "c", "r", "t"] : ["s", "l", "o", "d", "i", "p", "h", "v"]
                guard letterScalar.isASCII, allowed.contains(letter) else { throw SyntaxError(reason: "invalid macro letter") }
                var digits = ""
                while let next = characters.first, ("0"..."9").contains(next) { digits.unicodeScalars.append(next); characters.removeFirst() }
                var keep: Int?
                if !digits.isEmpty {
                    // "If a DIGIT is specified, the value MUST be nonzero" (§7.3); cap absurd values.
                    guard let value = Int(digits.prefix(4)), value > 0 else { throw SyntaxError(reason: "macro digit transformer is zero") }
                    keep = value
                }
                var reverse = false
                if characters.first == "r" || characters.first == "R" { reverse = true; characters.removeFirst() }
                var delimiters: [Character] = []
                while let next = characters.first, ".-+,/_=".unicodeScalars.contains(next) {
                    delimiters.append(Character(next))
                    characters.removeFirst()
                }
                guard characters.popFirst() == "}" else { throw SyntaxError(reason: "malformed macro") }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                parts.append(.macro(letter: letter, escape: letterScalar.properties.isUppercase, keep: keep, reverse: reverse, delimiters: delimiters))
            default:
                throw SyntaxError(reason: "'%' not followed by '%', '_', '-' or '{'")
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// Expands the string; `value` returns the raw value of a macro letter.
    func expand<E: Error>(_ value: (Character) throws(E) -> String) throws(E) -> String {
        var result = ""
        for part in parts {
            switch part {
            case .literal(let text):
                result += text
            case .macro(let letter, let escape, let keep, let reverse, let delimiters):
                let raw = try value(letter)
                let separators = delimiters.isEmpty ? ["."] : delimiters
                var labels = raw.split(omittingEmptySubsequences: false, whereSeparator: { separators.contains($0) }).map(String.init)
                if reverse { labels.reverse() }
                if let keep, keep < labels.count { labels = Array(labels.suffix(keep)) }
                let joined = labels.joined(separator: ".")
                result += escape ? Self.urlEscape(joined) : joined
            }
        }
        return result
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters (§7.3).
    static func urlEscape(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }
}
