// DSNDate: RFC 5322 date-time text for Date, Arrival-Date, Last-Attempt-Date and Will-Retry-Until.
// Always UTC (+0000): the module reads no time zone database, and +0000 is exact.

import PostOfficeCore

/// Formats a ``MailTime`` as an RFC 5322 date-time
/// ([RFC 5322 §3.3](https://www.rfc-editor.org/rfc/rfc5322#section-3.3)), e.g. `Tue, 14 Nov 2023 22:13:20 +0000`.
public enum DSNDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func format(_ time: MailTime) -> String {
        let (dayNumber, secondOfDay) = floorDivide(time.seconds, 86_400)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), no calendar library needed.
        let z = dayNumber + 719_468
        let era = floorDivide(z, 146_097).0
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = floorDivide(dayNumber + 4, 7).1  // 1970-01-01 was a Thursday
        let h = secondOfDay / 3600, m = secondOfDay / 60 % 60, s = secondOfDay % 60
        return "\(days[weekday]), \(day) \(months[month - 1]) \(year) \(two(h)):\(two(m)):\(two(s)) +0000"
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    private static func floorDivide(_ a: Int, _ b: Int) -> (Int, Int) {
        let q = a >= 0 ? a / b : -((-a + b - 1) / b)
        return (q, a - q * b)
    }
}
