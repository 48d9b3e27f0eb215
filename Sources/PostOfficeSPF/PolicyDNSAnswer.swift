// PolicyDNSAnswer: the caller's reply to a PolicyDNSQuestion. It keeps the distinctions SPF needs: records,
// the two kinds of "void" answer (RFC 7208 §4.6.4), and failures (which become temperror, RFC 7208 §2.6.6).

/// The answer to a ``PolicyDNSQuestion``.
///
/// See [RFC 7208 §4.4](https://www.rfc-editor.org/rfc/rfc7208#section-4.4) and
/// [§4.6.4](https://www.rfc-editor.org/rfc/rfc7208#section-4.6.4) for how each case is treated.
public enum PolicyDNSAnswer: Hashable, Sendable {
    /// RCODE 0 with records. Records of other types than the one asked for (CNAME chains) are ignored.
    case records([Record])
    /// RCODE 0 with no answer records (NODATA): a void lookup.
    case noData
    /// RCODE 3, Name Error: a void lookup.
    case nxdomain
    /// Timeout, SERVFAIL or another transient failure.
    case temporaryFailure
    /// Another RCODE (REFUSED, FORMERR, …). RFC 7208 §4.4 treats every RCODE other than 0 and 3 as temperror.
    case permanentFailure

    /// One resource record's data.
    public enum Record: Hashable, Sendable {
        /// A TXT record: its character-strings, concatenated without separators (RFC 7208 §3.3).
        case txt(String)
        case a(SPFIPAddress)
        case aaaa(SPFIPAddress)
        case mx(preference: Int, exchange: String)
        case ptr(String)
    }
}
