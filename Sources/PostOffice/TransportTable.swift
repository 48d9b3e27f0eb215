// TransportTable: the `transport_maps` file — per-domain overrides of where outbound mail goes, in Postfix's
// transport(5) syntax (`example.org  smtp:[10.0.0.5]:25`, `example.net  local`, `example.com  error:5.1.2
// text`), plus an optional `tls=LEVEL` word per smtp entry. Parsing and lookup only; the route resolver acts.

import PostOfficeCore
import PostOfficeSMTPClient

/// Where one domain's mail goes instead of the default (relay host or MX).
enum TransportEntry: Sendable, Equatable {
    /// SMTP to `host`: `[host]` (brackets) is connected to directly, without an MX lookup; a bare host has
    /// its MX records looked up. `port` nil is `smtp_destination_port`. `tls` nil is the global level.
    case smtp(host: String, port: Int?, looksUpMX: Bool, tls: SMTPClientTLSPolicy?)
    /// Into this server's mailboxes, by local part (Postfix's local(8)): `bob@example.net` goes where
    /// `bob@` the first local domain goes.
    case local
    /// Refuse for good with this code and text (Postfix's error(8)).
    case error(EnhancedStatusCode, String)
    /// Keep the mail queued with this code and text (Postfix's retry(8)).
    case retry(EnhancedStatusCode, String)
}

/// The parsed `transport_maps` file. Keys are matched like Postfix's transport(5) with the default
/// `parent_domain_matches_transport_maps` off: `example.org` matches that domain only, `.example.org` every
/// subdomain of it (the longest parent wins), and `*` everything else.
struct TransportTable: Sendable, Equatable {
    private(set) var entries: [String: TransportEntry] = [:]

    init() {}

    /// Reads `text`; throws with the line number of the first line it cannot read.
    init(parsing text: String, file: String) throws(ConfigurationError) {
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = String(rawLine).trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count >= 2 else {
                throw ConfigurationError(file: file, line: number, message: "expected DOMAIN TRANSPORT, got '\(line)'")
            }
            let key = words[0].lowercased()
            guard key == "*" || Self.isDomainKey(key) else {
                throw ConfigurationError(file: file, line: number, message: "'\(words[0])' is not a domain, .domain or *")
            }
            switch Self.entry(words[1], rest: Array(words.dropFirst(2))) {
            case .success(let entry): entries[key] = entry
            case .failure(let error): throw ConfigurationError(file: file, line: number, message: error.message)
            }
        }
    }

    /// The entry for `domain`: exact, then `.parent` for each parent from the nearest, then `*`.
    func entry(for domain: String) -> TransportEntry? {
        let name = domain.lowercased().trimmingSuffix(".")
        if let exact = entries[name] { return exact }
        var labels = name.split(separator: ".")[...]
        while labels.count > 1 {
            labels = labels.dropFirst()
            if let parent = entries["." + labels.joined(separator: ".")] { return parent }
        }
        return entries["*"]
    }

    var isEmpty: Bool { entries.isEmpty }

    private static func isDomainKey(_ key: String) -> Bool {
        let name = key.hasPrefix(".") ? String(key.dropFirst()) : key
        guard !name.isEmpty, !name.hasPrefix("."), !name.hasSuffix("."), !name.contains("..") else { return false }
        return name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" }
    }

    struct KeyError: Error { var message: String }

    private static func entry(_ transport: String, rest: [String]) -> Result<TransportEntry, KeyError> {
        do throws(KeyError) {
            return .success(try parseEntry(transport, rest: rest))
        } catch {
            return .failure(error)
        }
    }

    private static func parseEntry(_ transport: String, rest: [String]) throws(KeyError) -> TransportEntry {
        let (name, nexthop): (String, String) = {
            guard let colon = transport.firstIndex(of: ":") else { return (transport.lowercased(), "") }
            return (transport[..<colon].lowercased(), String(transport[transport.index(after: colon)...]))
        }()
        switch name {
        case "smtp", "relay":
            var tls: SMTPClientTLSPolicy?
            for word in rest {
                guard word.lowercased().hasPrefix("tls="), let level = SMTPClientTLSPolicy(level: String(word.dropFirst(4)))
                else { throw KeyError(message: "unknown option '\(word)' (expected tls=none|may|encrypt|verify)") }
                tls = level
            }
            return try smtp(nexthop, tls: tls)
        case "local":
            guard nexthop.isEmpty, rest.isEmpty else { throw KeyError(message: "'local' takes no next hop or options") }
            return .local
        case "error", "retry":
            // `error:5.1.2 text` (Postfix: the text is the next hop and whatever follows it on the line).
            let text = ([nexthop] + rest).joined(separator: " ")
            let isRetry = name == "retry"
            var code = EnhancedStatusCode(isRetry ? 4 : 5, isRetry ? 4 : 0, 0)
            var words = text.split(separator: " ", maxSplits: 1).map(String.init)
            if let first = words.first, let given = EnhancedStatusCode(first) {
                guard given.isPermanent != isRetry else {
                    throw KeyError(message: "\(name): expects a \(isRetry ? "4" : "5").X.Y code, got \(first)")
                }
                code = given
                words.removeFirst()
            }
            let reason = words.first ?? (isRetry ? "mail for this domain is held" : "mail for this domain is refused")
            return isRetry ? .retry(code, reason) : .error(code, reason)
        default:
            throw KeyError(message: "unknown transport '\(name)' (expected smtp, local, error or retry)")
        }
    }

    /// `[host]:port`, `[host]`, `host:port`, `host` or empty (empty is not allowed: say the host).
    private static func smtp(_ nexthop: String, tls: SMTPClientTLSPolicy?) throws(KeyError) -> TransportEntry {
        guard !nexthop.isEmpty else { throw KeyError(message: "smtp: needs a next hop, e.g. smtp:[192.0.2.1]:25") }
        var host: String
        var portText: String?
        let bracketed = nexthop.hasPrefix("[")
        if bracketed {
            guard let close = nexthop.firstIndex(of: "]") else { throw KeyError(message: "'\(nexthop)' lacks its ']'") }
            host = String(nexthop[nexthop.index(after: nexthop.startIndex)..<close])
            let after = nexthop[nexthop.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw KeyError(message: "'\(nexthop)': expected :PORT after ']'") }
                portText = String(after.dropFirst())
            }
        } else if let colon = nexthop.lastIndex(of: ":"), !nexthop[..<colon].contains(":") {
            host = String(nexthop[..<colon])
            portText = String(nexthop[nexthop.index(after: colon)...])
        } else {
            host = nexthop
        }
        host = host.lowercased()
        guard !host.isEmpty else { throw KeyError(message: "'\(nexthop)' has no host") }
        var port: Int?
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw KeyError(message: "'\(portText)' is not a port 1...65535")
            }
            port = value
        }
        return .smtp(host: host, port: port, looksUpMX: !bracketed, tls: tls)
    }
}

extension SMTPClientTLSPolicy {
    /// Postfix's `smtp_tls_security_level` words: none, may, encrypt, verify (`secure` is read as verify).
    init?(level: String) {
        switch level.lowercased() {
        case "none": self = .disabled
        case "may": self = .may
        case "encrypt": self = .encrypt
        case "verify", "secure": self = .verify
        default: return nil
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }

    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
