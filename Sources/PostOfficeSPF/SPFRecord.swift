// SPFRecord: one "v=spf1" record parsed into directives and modifiers (RFC 7208 §4.6, §5, §6). The whole
// record is checked before evaluation starts, so a syntax error anywhere is permerror even when an earlier
// mechanism would have matched (§4.6).

/// A parsed SPF record.
struct SPFRecord: Hashable, Sendable {
    struct SyntaxError: Error, Equatable {
        var reason: String
    }

    enum Mechanism: Hashable, Sendable {
        case all
        case include(SPFMacroString)
        case a(SPFMacroString?, ipv4Prefix: Int, ipv6Prefix: Int)
        case mx(SPFMacroString?, ipv4Prefix: Int, ipv6Prefix: Int)
        case ptr(SPFMacroString?)
        case ip4(SPFIPAddress, prefix: Int)
        case ip6(SPFIPAddress, prefix: Int)
        case exists(SPFMacroString)
    }

    struct Directive: Hashable, Sendable {
        var qualifier: SPFResult
        var mechanism: Mechanism
        /// The term as written, for Received-SPF's `mechanism=`.
        var text: String
    }

    var directives: [Directive] = []
    var redirect: SPFMacroString?
    var explanation: SPFMacroString?

    /// True when `text` is an SPF record at all: "v=spf1" then a space or the end (§4.5, case-insensitive).
    static func isSPF(_ text: String) -> Bool {
        let utf8 = Array(text.utf8.prefix(7))
        guard utf8.count >= 6, String(decoding: utf8[0..<6], as: UTF8.self).lowercased() == "v=spf1" else { return false }
        return utf8.count == 6 || utf8[6] == UInt8(ascii: " ")
    }

    init(parsing text: String) throws(SyntaxError) {
        guard Self.isSPF(text) else { throw SyntaxError(reason: "not an SPF record") }
        // Terms are separated by one or more SP only; any other control character is a syntax error (§4.6.1).
        for term in text.dropFirst(6).split(separator: " ") {
            try parse(term: term)
        }
    }

    private mutating func parse(term: Substring) throws(SyntaxError) {
        var rest = term
        var qualifier: SPFResult?
        switch rest.first {
        case "+": qualifier = .pass
        case "-": qualifier = .fail
        case "~": qualifier = .softfail
        case "?": qualifier = .neutral
        default: break
        }
        if qualifier != nil { rest = rest.dropFirst() }
        let nameEnd = rest.firstIndex(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0))) }) ?? rest.endIndex
        let name = rest[..<nameEnd].lowercased()
        let argument = rest[nameEnd...]

        if argument.first == "=" {
            // modifier = name "=" macro-string; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
            guard qualifier == nil, let first = name.first, first.isLetter else { throw SyntaxError(reason: "invalid modifier '\(term)'") }
            let value = String(argument.dropFirst())
            switch name {
            case "redirect":
                guard redirect == nil else { throw SyntaxError(reason: "more than one redirect modifier") }
                redirect = try Self.domainSpec(value)
            case "exp":
                guard explanation == nil else { throw SyntaxError(reason: "more than one exp modifier") }
                explanation = try Self.domainSpec(value)
            default:
                // Unknown modifiers are ignored, but must still be well-formed (§6).
                do { _ = try SPFMacroString(parsing: value) } catch { throw SyntaxError(reason: "invalid modifier '\(term)'") }
            }
            return
        }

        let mechanism: Mechanism
        switch name {
        case "all":
            guard argument.isEmpty else { throw SyntaxError(reason: "'all' takes no argument") }
            mechanism = .all
        case "include", "exists":
            guard argument.first == ":" else { throw SyntaxError(reason: "'\(name)' needs a domain") }
            let spec = try Self.domainSpec(String(argument.dropFirst()))
            mechanism = name == "include" ? .include(spec) : .exists(spec)
        case "ptr":
            var spec: SPFMacroString?
            if !argument.isEmpty {
                guard argument.first == ":" else { throw SyntaxError(reason: "invalid 'ptr' argument") }
                spec = try Self.domainSpec(String(argument.dropFirst()))
            }
            mechanism = .ptr(spec)
        case "a", "mx":
            var (domain, v4, v6) = try Self.splitDualCIDR(argument)
            var spec: SPFMacroString?
            if !domain.isEmpty {
                guard domain.first == ":" else { throw SyntaxError(reason: "invalid '\(name)' argument") }
                domain = domain.dropFirst()
                spec = try Self.domainSpec(String(domain))
            }
            mechanism = name == "a" ? .a(spec, ipv4Prefix: v4 ?? 32, ipv6Prefix: v6 ?? 128) : .mx(spec, ipv4Prefix: v4 ?? 32, ipv6Prefix: v6 ?? 128)
        case "ip4", "ip6":
            guard argument.first == ":" else { throw SyntaxError(reason: "'\(name)' needs an address") }
            let network = argument.dropFirst()
            let slash = network.firstIndex(of: "/")
            let addressText = network[..<(slash ?? network.endIndex)]
            var prefix = name == "ip4" ? 32 : 128
            if let slash {
                guard let value = Self.cidr(network[network.index(after: slash)...], maximum: prefix) else {
                    throw SyntaxError(reason: "invalid CIDR length in '\(term)'")
                }
                prefix = value
            }
            if name == "ip4" {
                guard let bytes = SPFIPAddress.parseIPv4(addressText), let address = SPFIPAddress(bytes: bytes) else {
                    throw SyntaxError(reason: "invalid IPv4 address in '\(term)'")
                }
                mechanism = .ip4(address, prefix: prefix)
            } else {
                guard let bytes = SPFIPAddress.parseIPv6(addressText), let address = SPFIPAddress(bytes: bytes) else {
                    throw SyntaxError(reason: "invalid IPv6 address in '\(term)'")
                }
                mechanism = .ip6(address, prefix: prefix)
            }
        default:
            throw SyntaxError(reason: "unknown mechanism '\(term)'")
        }
        directives.append(Directive(qualifier: qualifier ?? .pass, mechanism: mechanism, text: String(term)))
    }

    /// Takes a trailing `/n`, `//n` or `/n//n` off an a/mx argument (dual-cidr-length, §5.6).
    private static func splitDualCIDR(_ argument: Substring) throws(SyntaxError) -> (Substring, Int?, Int?) {
        var rest = argument
        var v4: Int?
        var v6: Int?
        if let range = rest.lastRange(of: "//"), rest[range.upperBound...].allSatisfy(\.isNumber) {
            guard let value = cidr(rest[range.upperBound...], maximum: 128) else { throw SyntaxError(reason: "invalid IPv6 CIDR length") }
            v6 = value
            rest = rest[..<range.lowerBound]
        }
        if let slash = rest.lastIndex(of: "/"), rest[rest.index(after: slash)...].allSatisfy(\.isNumber) {
            guard let value = cidr(rest[rest.index(after: slash)...], maximum: 32) else { throw SyntaxError(reason: "invalid IPv4 CIDR length") }
            v4 = value
            rest = rest[..<slash]
        }
        if !rest.hasPrefix(":") && rest.contains("/") { throw SyntaxError(reason: "invalid CIDR length") }
        return (rest, v4, v6)
    }

    /// "0" or a number without leading zeros, at most `maximum`.
    private static func cidr(_ text: Substring, maximum: Int) -> Int? {
        guard !text.isEmpty, text.count <= 3, text.allSatisfy({ $0.isASCII && $0.isNumber }), text == "0" || text.first != "0",
            let value = Int(text), value <= maximum
        else { return nil }
        return value
    }

    /// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand (§7.1).
    static func domainSpec(_ text: String) throws(SyntaxError) -> SPFMacroString {
        let spec: SPFMacroString
        do { spec = try SPFMacroString(parsing: text) } catch { throw SyntaxError(reason: "invalid domain-spec '\(text)': \(error.reason)") }
        if spec.endsInMacro { return spec }
        guard case .literal(var tail) = spec.parts.last else { throw SyntaxError(reason: "empty domain-spec") }
        if tail.hasSuffix(".") { tail.removeLast() }
        guard let dot = tail.lastIndex(of: "."), isTopLabel(tail[tail.index(after: dot)...]) else {
            throw SyntaxError(reason: "domain-spec '\(text)' does not end in a top-level label")
        }
        return spec
    }

    /// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ).
    private static func isTopLabel(_ label: Substring) -> Bool {
        guard let first = label.first, let last = label.last, first != "-", last != "-" else { return false }
        guard label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else { return false }
        return label.contains("-") || label.contains(where: \.isLetter)
    }
}

extension Substring {
    /// The last occurrence of `needle` (no Foundation).
    fileprivate func lastRange(of needle: String) -> Range<Index>? {
        var found: Range<Index>?
        var rest = self[...]
        while let range = rest.firstRange(of: needle) {
            found = range
            rest = rest[rest.index(after: range.lowerBound)...]
        }
        return found
    }
}
