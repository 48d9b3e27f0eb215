// SMTPCommandParser: turns one command line (CRLF removed) into an SMTPCommand or the error reply for it.
// It checks characters, verbs, arguments and ESMTP parameters against what the configuration offers.

import PostOfficeCore

/// Parses SMTP command lines ([RFC 5321 §4.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1)).
struct SMTPCommandParser {
    enum Outcome: Hashable {
        case command(SMTPCommand)
        case failure(SMTPReply)
    }

    var configuration: SMTPServerConfiguration

    private var pathParser: SMTPPathParser { SMTPPathParser(postmasterDomain: configuration.hostname) }

    /// Parses `line`. `allowsUTF8Recipient` says whether the current transaction was opened with SMTPUTF8.
    func parse(_ line: [UInt8], allowsUTF8Recipient: Bool = false) -> Outcome {
        // Control characters (NUL, a bare CR, TAB...) never belong in a command (RFC 5321 §4.1.1).
        if line.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return .failure(.invalidCharacters) }
        if line.contains(where: { $0 >= 0x80 }) && Array(String(decoding: line, as: UTF8.self).utf8) != line {
            return .failure(.invalidCharacters)
        }
        let space = line.firstIndex(of: UInt8(ascii: " ")) ?? line.count
        let verb = String(decoding: line[..<space], as: UTF8.self).uppercased()
        let argumentBytes = Array(line[space...].drop { $0 == UInt8(ascii: " ") })
        let argument = Self.trimmed(String(decoding: argumentBytes, as: UTF8.self))
        switch verb {
        case "EHLO", "HELO":
            // RFC 2033 §4.1: an LMTP server must not answer EHLO or HELO as if it were SMTP.
            guard configuration.flavor == .smtp else { return .failure(.helloInLMTP) }
            guard !argument.isEmpty else { return .failure(.syntaxError.withText("Syntax: \(verb) hostname")) }
            return .command(verb == "EHLO" ? .ehlo(argument) : .helo(argument))
        case "LHLO" where configuration.flavor == .lmtp:
            guard !argument.isEmpty else { return .failure(.syntaxError.withText("Syntax: LHLO hostname")) }
            return .command(.lhlo(argument))
        case "MAIL":
            return parseMail(argumentBytes)
        case "RCPT":
            return parseRecipient(argumentBytes, allowsUTF8: allowsUTF8Recipient)
        case "DATA":
            return argument.isEmpty ? .command(.data) : .failure(.syntaxError.withText("Syntax: DATA"))
        case "BDAT":
            return parseChunk(argument)
        case "RSET":
            return argument.isEmpty ? .command(.rset) : .failure(.syntaxError.withText("Syntax: RSET"))
        case "NOOP":
            return .command(.noop)  // RFC 5321 §4.1.1.9: a parameter is allowed and ignored
        case "QUIT":
            return argument.isEmpty ? .command(.quit) : .failure(.syntaxError.withText("Syntax: QUIT"))
        case "VRFY":
            return argument.isEmpty
                ? .failure(.syntaxError.withText("Syntax: VRFY address")) : .command(.vrfy(argument))
        case "EXPN":
            return argument.isEmpty ? .failure(.syntaxError.withText("Syntax: EXPN name")) : .command(.expn(argument))
        case "HELP":
            return .command(.help)
        case "STARTTLS":
            return argument.isEmpty ? .command(.starttls) : .failure(.syntaxError.withText("Syntax: STARTTLS"))
        case "AUTH":
            return parseAuthentication(argument)
        case "ETRN":
            return parseQueueRun(argument)
        case "":
            return .failure(.unknownCommand.withText("Error: bad syntax"))
        default:
            return .failure(.unknownCommand)
        }
    }

    // MARK: ETRN

    /// `ETRN domain`, `ETRN @domain` or `ETRN #queue`, one argument (RFC 1985 §5); anything else is 501.
    private func parseQueueRun(_ argument: String) -> Outcome {
        let syntax = SMTPReply.syntaxError.withText("Syntax: ETRN domain, ETRN @domain or ETRN #queue")
        guard !argument.isEmpty, !argument.contains(" ") else { return .failure(syntax) }
        if argument.hasPrefix("#") {
            let name = String(argument.dropFirst())
            return name.isEmpty ? .failure(syntax) : .command(.etrn(.queue(name)))
        }
        let subdomains = argument.hasPrefix("@")
        let name = MailAddress.canonicalDomain(subdomains ? String(argument.dropFirst()) : argument)
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let isDomain = !labels.isEmpty && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { $0 >= 0x80 || $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }
        }
        guard isDomain, name.utf8.count <= 255 else {
            return .failure(syntax.withText("Syntax: '\(argument)' is not a domain (ETRN domain, ETRN @domain or ETRN #queue)"))
        }
        return .command(.etrn(subdomains ? .domainAndSubdomains(name) : .domain(name)))
    }

    // MARK: MAIL and RCPT

    private func parseMail(_ argument: [UInt8]) -> Outcome {
        let usage = SMTPReply.syntaxError.withText("Syntax: MAIL FROM:<address>")
        guard let pathStart = Self.pathStart(argument, keyword: "FROM:") else { return .failure(usage) }
        guard let parsed = pathParser.parse(argument, from: pathStart, kind: .reversePath) else {
            return .failure(.badSenderSyntax)
        }
        var parameters = MailParameters()
        guard let words = Self.splitParameters(argument[parsed.end...]) else { return .failure(.syntaxError) }
        var seen: Set<String> = []
        for (keyword, value) in words {
            guard seen.insert(keyword).inserted else {
                return .failure(.syntaxError.withText("Error: duplicate \(keyword) parameter"))
            }
            switch keyword {
            case "SIZE":
                // RFC 1870: 1*20DIGIT; values beyond Int are simply too big.
                guard let value, (1...20).contains(value.count), value.allSatisfy({ (48...57).contains($0) }) else {
                    return .failure(.syntaxError.withText("Error: bad SIZE parameter"))
                }
                let size = Int(String(decoding: value, as: UTF8.self)) ?? Int.max
                if size > configuration.limits.maximumMessageSize { return .failure(.messageTooBig) }
                parameters.size = size
            case "BODY" where configuration.is8BitMIMEEnabled:
                switch value.map({ String(decoding: $0, as: UTF8.self).uppercased() }) {
                case "7BIT": parameters.body = .sevenBit
                case "8BITMIME": parameters.body = .eightBitMIME
                case "BINARYMIME" where configuration.isChunkingEnabled: parameters.body = .binaryMIME
                case "BINARYMIME": return .failure(.unknownParameter.withText("Error: BINARYMIME is not offered"))
                default: return .failure(.syntaxError.withText("Error: bad BODY parameter"))
                }
            case "SMTPUTF8" where configuration.isSMTPUTF8Enabled:
                guard value == nil else { return .failure(.syntaxError.withText("Error: SMTPUTF8 takes no value")) }
                parameters.isSMTPUTF8 = true
            case "RET" where configuration.isDSNEnabled:
                switch value.map({ String(decoding: $0, as: UTF8.self).uppercased() }) {
                case "FULL": parameters.dsnReturn = .full
                case "HDRS": parameters.dsnReturn = .headers
                default: return .failure(.syntaxError.withText("Error: bad RET parameter"))
                }
            case "ENVID" where configuration.isDSNEnabled:
                // RFC 3461 §4.4: at most 100 characters of xtext.
                guard let value, value.count <= 100, let decoded = SMTPXText.decode(value) else {
                    return .failure(.syntaxError.withText("Error: bad ENVID parameter"))
                }
                parameters.envelopeID = decoded
            case "AUTH" where !configuration.authenticationMechanisms.isEmpty:
                // RFC 4954 §5: AUTH=<> or AUTH=xtext(addr-spec); a server offering AUTH must accept it.
                guard let value, let decoded = SMTPXText.decode(value), !decoded.isEmpty,
                    decoded.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F })
                else {
                    return .failure(.syntaxError.withText("Error: bad AUTH parameter"))
                }
                parameters.submitter = decoded
            default:
                return .failure(.unknownParameter.withText("Error: unsupported parameter \(keyword)"))
            }
        }
        if let address = parsed.address, SMTPPathParser.containsNonASCII(address), !parameters.isSMTPUTF8 {
            return .failure(.utf8AddressNotPermitted)
        }
        return .command(.mail(parsed.address, parameters))
    }

    private func parseRecipient(_ argument: [UInt8], allowsUTF8: Bool) -> Outcome {
        let usage = SMTPReply.syntaxError.withText("Syntax: RCPT TO:<address>")
        guard let pathStart = Self.pathStart(argument, keyword: "TO:") else { return .failure(usage) }
        guard let parsed = pathParser.parse(argument, from: pathStart, kind: .forwardPath),
            let address = parsed.address
        else { return .failure(.badRecipientSyntax) }
        var parameters = RecipientParameters()
        guard let words = Self.splitParameters(argument[parsed.end...]) else { return .failure(.syntaxError) }
        var seen: Set<String> = []
        for (keyword, value) in words {
            guard seen.insert(keyword).inserted else {
                return .failure(.syntaxError.withText("Error: duplicate \(keyword) parameter"))
            }
            switch keyword {
            case "NOTIFY" where configuration.isDSNEnabled:
                guard let value, let notify = Self.parseNotify(value) else {
                    return .failure(.syntaxError.withText("Error: bad NOTIFY parameter"))
                }
                parameters.dsnNotify = notify
            case "ORCPT" where configuration.isDSNEnabled:
                guard let value, let original = Self.parseOriginalRecipient(value) else {
                    return .failure(.syntaxError.withText("Error: bad ORCPT parameter"))
                }
                parameters.originalRecipient = original
            default:
                return .failure(.unknownParameter.withText("Error: unsupported parameter \(keyword)"))
            }
        }
        if SMTPPathParser.containsNonASCII(address), !allowsUTF8 {
            return .failure(.utf8AddressNotPermitted)
        }
        return .command(.rcpt(address, parameters))
    }

    /// Where the path begins after `FROM:`/`TO:` (case-insensitive); spaces after the colon are tolerated,
    /// as Postfix does, because common clients send them.
    static func pathStart(_ argument: [UInt8], keyword: String) -> Int? {
        let key = Array(keyword.utf8)
        guard argument.count > key.count,
            zip(argument, key).allSatisfy({ asciiUppercase($0) == $1 })
        else { return nil }
        var index = key.count
        while index < argument.count, argument[index] == UInt8(ascii: " ") { index += 1 }
        return index
    }

    /// Splits `SP KEY[=value] SP KEY...` (RFC 5321 §4.1.2 Mail-parameters). Keywords are upper-cased;
    /// nil when the text is malformed.
    static func splitParameters(_ text: ArraySlice<UInt8>) -> [(String, [UInt8]?)]? {
        guard text.isEmpty || text.first == UInt8(ascii: " ") else { return nil }
        var result: [(String, [UInt8]?)] = []
        for word in text.split(separator: UInt8(ascii: " ")) {
            let equals = word.firstIndex(of: UInt8(ascii: "="))
            let keyword = word[..<(equals ?? word.endIndex)]
            // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
            guard let first = keyword.first, SMTPPathParser.isLetterDigit(first),
                keyword.allSatisfy({ SMTPPathParser.isLetterDigit($0) || $0 == UInt8(ascii: "-") })
            else { return nil }
            var value: [UInt8]?
            if let equals {
                // esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531 §3.3)
                let bytes = Array(word[(equals + 1)...])
                guard !bytes.isEmpty, bytes.allSatisfy({ ($0 >= 33 && $0 != UInt8(ascii: "=")) }) else { return nil }
                value = bytes
            }
            result.append((String(decoding: keyword, as: UTF8.self).uppercased(), value))
        }
        return result
    }

    /// NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) (RFC 3461 §4.1).
    static func parseNotify(_ value: [UInt8]) -> RecipientParameters.DSNNotify? {
        let words = String(decoding: value, as: UTF8.self).uppercased().split(
            separator: ",", omittingEmptySubsequences: false)
        if words == ["NEVER"] { return .never }
        var notify: RecipientParameters.DSNNotify = []
        for word in words {
            switch word {
            case "SUCCESS": notify.insert(.success)
            case "FAILURE": notify.insert(.failure)
            case "DELAY": notify.insert(.delay)
            default: return nil
            }
        }
        return notify
    }

    /// ORCPT = addr-type ";" xtext (RFC 3461 §4.2).
    static func parseOriginalRecipient(_ value: [UInt8]) -> RecipientParameters.OriginalRecipient? {
        guard let semicolon = value.firstIndex(of: UInt8(ascii: ";")), semicolon > 0, semicolon + 1 < value.count
        else { return nil }
        let type = value[..<semicolon]
        guard type.allSatisfy({ MailAddress.isAtext($0) }), let address = SMTPXText.decode(value[(semicolon + 1)...])
        else {
            return nil
        }
        return RecipientParameters.OriginalRecipient(
            addressType: String(decoding: type, as: UTF8.self), address: address)
    }

    /// BDAT SP chunk-size [ SP "LAST" ] (RFC 3030 §2).
    private func parseChunk(_ argument: String) -> Outcome {
        let usage = SMTPReply.syntaxError.withText("Syntax: BDAT size [LAST]")
        let words = argument.split(separator: " ")
        guard (1...2).contains(words.count), let sizeText = words.first, (1...18).contains(sizeText.utf8.count),
            sizeText.utf8.allSatisfy({ (48...57).contains($0) }), let size = Int(sizeText)
        else { return .failure(usage) }
        if words.count == 2 {
            guard words[1].uppercased() == "LAST" else { return .failure(usage) }
            return .command(.bdat(size: size, isLast: true))
        }
        return .command(.bdat(size: size, isLast: false))
    }

    /// AUTH SP sasl-mech [SP initial-response] ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)):
    /// the mechanism is 1*20 of upper-case letters, digits, `-` and `_` (compared case-insensitively), the
    /// response base64 characters or `=`. Whether the base64 decodes is the SASL exchange's question.
    private func parseAuthentication(_ argument: String) -> Outcome {
        let usage = SMTPReply.syntaxError.withText("Syntax: AUTH mechanism [initial-response]")
        let words = argument.split(separator: " ")
        guard (1...2).contains(words.count) else { return .failure(usage) }
        let mechanism = words[0].uppercased()
        guard (1...20).contains(mechanism.utf8.count),
            mechanism.utf8.allSatisfy({ SMTPPathParser.isLetterDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { return .failure(usage) }
        guard words.count == 2 else { return .command(.auth(mechanism: mechanism, initialResponse: nil)) }
        let response = words[1]
        guard response.utf8.allSatisfy({ SMTPPathParser.isLetterDigit($0) || "+/=".utf8.contains($0) }) else {
            return .failure(usage)
        }
        return .command(.auth(mechanism: mechanism, initialResponse: String(response)))
    }

    static func asciiUppercase(_ c: UInt8) -> UInt8 {
        (97...122).contains(c) ? c - 32 : c
    }

    static func trimmed(_ text: String) -> String {
        var text = Substring(text)
        while text.last == " " { text.removeLast() }
        while text.first == " " { text.removeFirst() }
        return String(text)
    }
}
