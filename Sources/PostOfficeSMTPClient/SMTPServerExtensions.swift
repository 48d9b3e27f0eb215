// SMTPServerExtensions: the client's reading of an EHLO reply (the server side writes SMTPCapabilities).
// Unknown keywords are ignored; HELO (or a failed EHLO) means no extensions at all.

import PostOfficeSMTP

/// The service extensions a server advertised in its EHLO reply
/// ([RFC 5321 §4.1.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1)).
public struct SMTPServerExtensions: Hashable, Sendable {
    /// [RFC 2920](https://www.rfc-editor.org/rfc/rfc2920) PIPELINING.
    public var pipelining = false
    /// [RFC 1870](https://www.rfc-editor.org/rfc/rfc1870) SIZE was offered (so `SIZE=` may be sent).
    public var size = false
    /// The fixed SIZE limit in octets; nil when none was given (or `SIZE 0`: no fixed limit, RFC 1870 §4).
    public var sizeLimit: Int?
    /// [RFC 6152](https://www.rfc-editor.org/rfc/rfc6152) 8BITMIME.
    public var eightBitMIME = false
    /// [RFC 6531](https://www.rfc-editor.org/rfc/rfc6531) SMTPUTF8.
    public var smtpUTF8 = false
    /// [RFC 3461](https://www.rfc-editor.org/rfc/rfc3461) DSN.
    public var dsn = false
    /// [RFC 3030](https://www.rfc-editor.org/rfc/rfc3030) CHUNKING (BDAT).
    public var chunking = false
    /// [RFC 3207](https://www.rfc-editor.org/rfc/rfc3207) STARTTLS.
    public var startTLS = false
    /// [RFC 2034](https://www.rfc-editor.org/rfc/rfc2034) ENHANCEDSTATUSCODES.
    public var enhancedStatusCodes = false
    /// [RFC 4954](https://www.rfc-editor.org/rfc/rfc4954) AUTH mechanisms, upper case, in the server's order.
    public var authMechanisms: [String] = []

    /// No extensions (the server answered HELO).
    public init() {}

    /// Reads the keyword lines of a 250 EHLO reply (the first line is the server's name).
    public init(ehloReply: SMTPReply) {
        for line in ehloReply.lines.dropFirst() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.uppercased() }
            guard let keyword = words.first else { continue }
            switch keyword {
            case "PIPELINING": pipelining = true
            case "SIZE":
                size = true
                sizeLimit = words.dropFirst().first.flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            case "8BITMIME": eightBitMIME = true
            case "SMTPUTF8": smtpUTF8 = true
            case "DSN": dsn = true
            case "CHUNKING": chunking = true
            case "STARTTLS": startTLS = true
            case "ENHANCEDSTATUSCODES": enhancedStatusCodes = true
            case "AUTH": authMechanisms += words.dropFirst()
            default:
                // Old servers (and Outlook clients' habits) advertise `AUTH=LOGIN PLAIN` too.
                if keyword.hasPrefix("AUTH=") {
                    authMechanisms += [String(keyword.dropFirst(5))] + words.dropFirst()
                }
            }
        }
    }
}
