// MailDateFormatter: the RFC 5322 date-time (`Mon, 23 Nov 2026 01:00:15 +0000`) without Foundation,
// via gmtime_r on the shifted time; and the host's current UTC offset via localtime_r.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Formats dates as [RFC 5322 §3.3](https://www.rfc-editor.org/rfc/rfc5322#section-3.3) `date-time`.
public enum MailDateFormatter {
    private static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `seconds` since the epoch shown in a zone `offsetMinutes` east of UTC (clamped to ±23:59).
    public static func format(seconds: Int, offsetMinutes: Int) -> String {
        let offset = max(-(23 * 60 + 59), min(23 * 60 + 59, offsetMinutes))
        var shifted = time_t(seconds + offset * 60)
        var parts = tm()
        guard gmtime_r(&shifted, &parts) != nil else { return "Thu, 1 Jan 1970 00:00:00 +0000" }
        let day = dayNames[Int(parts.tm_wday) % 7]
        let month = monthNames[Int(parts.tm_mon) % 12]
        let sign = offset < 0 ? "-" : "+"
        let magnitude = abs(offset)
        return "\(day), \(parts.tm_mday) \(month) \(Int(parts.tm_year) + 1900) "
            + "\(twoDigits(Int(parts.tm_hour))):\(twoDigits(Int(parts.tm_min))):\(twoDigits(Int(parts.tm_sec))) "
            + "\(sign)\(twoDigits(magnitude / 60))\(twoDigits(magnitude % 60))"
    }

    /// The host's UTC offset in minutes at `seconds` (from `localtime_r`, so TZ and DST apply).
    public static func localOffsetMinutes(at seconds: Int) -> Int {
        var time = time_t(seconds)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return 0 }
        return Int(parts.tm_gmtoff) / 60
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
