// MailboxLayout: where a user's Maildir lives under the mail root, as a Dovecot-style template
// (`%d/%n`, `%n/Maildir`). Expansion is plain substitution; values were checked by MailboxPathRules.

/// A template naming a user's Maildir relative to the mail root, like Dovecot's `mail_location`
/// ([Dovecot variables](https://doc.dovecot.org/configuration_manual/config_file/config_variables/)):
/// `%d` is the domain, `%n` the local part, `%u` the full address `local@domain`, `%%` a literal `%`.
///
/// The default `%d/%n` gives `<mailRoot>/example.org/alice`; `%n/Maildir` gives `<mailRoot>/alice/Maildir`
/// (then local parts must be unique across domains).
public struct MailboxLayout: Sendable, Hashable, CustomStringConvertible {
    /// The template as given.
    public let template: String

    /// `%d/%n`.
    public static let domainThenLocalPart = MailboxLayout(validated: "%d/%n")

    /// Parses a template. Returns nil when it is empty, absolute, has an unknown `%` sequence, a `.` or
    /// `..` component, or uses no variable at all (every user would share one Maildir).
    public init?(template: String) {
        guard !template.isEmpty, !template.hasPrefix("/") else { return nil }
        var usesVariable = false
        var iterator = template.makeIterator()
        while let c = iterator.next() {
            guard c == "%" else { continue }
            switch iterator.next() {
            case "d", "n", "u": usesVariable = true
            case "%": break
            default: return nil
            }
        }
        guard usesVariable else { return nil }
        // Bytes, not Characters: a combining mark after `/` must not hide the separator (found by fuzzing).
        guard !template.unicodeScalars.contains(where: MailboxPathRules.isForbiddenInTemplate) else { return nil }
        let components = Array(template.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard !components.contains(where: { $0.isEmpty || MailboxPathRules.isDotComponent($0) }) else { return nil }
        self.template = template
    }

    private init(validated template: String) {
        self.template = template
    }

    public var description: String { template }

    /// The Maildir path relative to the mail root for a user.
    public func relativePath(localPart: String, domain: String) -> String {
        var out = ""
        var iterator = template.makeIterator()
        while let c = iterator.next() {
            guard c == "%" else {
                out.append(c)
                continue
            }
            switch iterator.next() {
            case "d": out += domain
            case "n": out += localPart
            case "u": out += "\(localPart)@\(domain)"
            default: out.append("%")
            }
        }
        return out
    }
}
