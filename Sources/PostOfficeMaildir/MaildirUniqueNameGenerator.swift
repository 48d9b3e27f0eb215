// MaildirUniqueNameGenerator: makes the unique base names of new messages, in the form Dovecot writes:
// <secs>.M<usecs>P<pid>Q<n>.<host>. Unique per host because (time, pid, counter) never repeats in one process.

import PostOfficeCore

/// Makes unique Maildir base names: `1700000000.M123456P4242Q7.mail.example.test`.
///
/// The counter `Q` makes names unique within one process even within one microsecond; the pid separates
/// processes; the host name separates machines sharing the Maildir over NFS. `/` and `:` in the host name
/// are written as `\057` and `\072`, as maildir(5) asks, because `/` is a path separator and `:` starts the
/// info part.
public final class MaildirUniqueNameGenerator: Sendable {
    public let escapedHostname: String
    public let processID: Int32
    private let clock: any MailClock
    private let counter = Counter()

    public init(hostname: String, processID: Int32, clock: any MailClock) {
        self.escapedHostname = Self.escape(hostname: hostname)
        self.processID = processID
        self.clock = clock
    }

    /// The next unique base name.
    public func next() -> String {
        let t = clock.now()
        let q = counter.increment()
        return "\(t.seconds).M\(t.microseconds)P\(processID)Q\(q).\(escapedHostname)"
    }

    /// Escapes `/` and `:` as octal, and drops control characters, so the host can be part of a file name.
    /// The result is cut to 120 UTF-8 bytes so a whole name (time, pid, counter, host, `,S=`, `,W=`, `:2,`
    /// flags) stays within the 255-byte file name limit (NAME_MAX).
    public static func escape(hostname: String) -> String {
        var out = ""
        var length = 0
        for c in hostname.unicodeScalars {
            let width = c == "/" || c == ":" || c == "," ? 4 : String(c).utf8.count
            if length + width > 120 { break }
            length += width
            switch c {
            case "/": out += "\\057"
            case ":": out += "\\072"
            case ",": out += "\\054"  // "," starts the S=/W= fields, so it is escaped too
            default:
                if c.value < 0x20 || c.value == 0x7f { continue }
                out.unicodeScalars.append(c)
            }
        }
        return out.isEmpty ? "localhost" : out
    }
}

/// A thread-safe counter.
final class Counter: @unchecked Sendable {
    private let lock = Lock()
    private var value = 0

    func increment() -> Int {
        lock.withLock {
            value += 1
            return value
        }
    }
}
