// DNSMessageError: why bytes are not a DNS message, or a message or name cannot be encoded.
// Every malformed input ends here as a typed error (with the offset where decoding stopped), never a trap.

/// A DNS message or name that breaks RFC 1035's wire rules.
///
/// See [RFC 1035 §4.1](https://www.rfc-editor.org/rfc/rfc1035#section-4.1).
public enum DNSMessageError: Error, Hashable, Sendable {
    /// The message ends inside a field that starts at `offset`.
    case truncated(offset: Int)
    /// A length byte at `offset` is not a label of 0...63 octets or a compression pointer (RFC 1035 §4.1.4).
    case labelTooLong(offset: Int)
    /// The name starting at `offset` is longer than 255 octets in wire form (RFC 1035 §2.3.4).
    case nameTooLong(offset: Int)
    /// A compression pointer at `offset` does not point strictly backwards (the loop guard).
    case compressionPointerForward(offset: Int)
    /// The name at `offset` follows more compression pointers than any real message needs.
    case compressionLoop(offset: Int)
    /// The RDATA at `offset` does not have the shape its record type requires.
    case badRecordData(offset: Int)
    /// A name given as text is not a valid domain name.
    case invalidName(String)
    /// A value does not fit its wire field (message > 65535 octets, a TXT string > 255 octets, ...).
    case tooLong(String)
}
