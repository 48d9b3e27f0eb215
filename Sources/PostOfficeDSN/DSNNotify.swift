// DSNNotify: the NOTIFY= parameter of RCPT TO (RFC 3461 §4.1), parsed into the set of reports wanted.
// Absent means FAILURE,DELAY; NEVER is the empty set.

/// Which reports the sender asked for about one recipient
/// ([RFC 3461 §4.1](https://www.rfc-editor.org/rfc/rfc3461#section-4.1)). The empty set is `NEVER`.
public struct DSNNotify: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let success = DSNNotify(rawValue: 1)
    public static let failure = DSNNotify(rawValue: 2)
    public static let delay = DSNNotify(rawValue: 4)
    /// `NEVER`: no report at all.
    public static let never: DSNNotify = []
    /// What an absent NOTIFY means: failures and delays, not successes (RFC 3461 §4.1).
    public static let defaultWhenAbsent: DSNNotify = [.failure, .delay]

    /// Parses the parameter as sent (`SUCCESS,FAILURE`, `never`; case-insensitive). nil, and anything
    /// malformed (an unknown word, NEVER with another word), mean the default: a broken parameter
    /// should not silence failure reports.
    public init(parameter: String?) {
        guard let parameter else {
            self = .defaultWhenAbsent
            return
        }
        let words = parameter.split(separator: ",", omittingEmptySubsequences: false).map { $0.uppercased() }
        if words == ["NEVER"] {
            self = .never
            return
        }
        var result: DSNNotify = []
        for word in words {
            switch word {
            case "SUCCESS": result.insert(.success)
            case "FAILURE": result.insert(.failure)
            case "DELAY": result.insert(.delay)
            default:
                self = .defaultWhenAbsent
                return
            }
        }
        self = result
    }
}
