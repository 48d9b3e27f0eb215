// DNSHeader: the fixed 12-octet header minus the four section counts (a message derives those from its
// sections). Every flag bit, the reserved Z bit included, is kept so decoding and encoding are inverses.

/// The header of a DNS message.
///
/// See [RFC 1035 §4.1.1](https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1) and
/// [RFC 4035 §3.2](https://www.rfc-editor.org/rfc/rfc4035#section-3.2) (AD, CD).
public struct DNSHeader: Hashable, Sendable {
    public var id: UInt16
    /// QR: this is a response.
    public var isResponse: Bool
    /// OPCODE (4 bits); 0 is a standard query.
    public var opcode: UInt8
    /// AA: authoritative answer.
    public var isAuthoritative: Bool
    /// TC: the answer did not fit the datagram; ask again over TCP.
    public var isTruncated: Bool
    /// RD: recursion desired.
    public var recursionDesired: Bool
    /// RA: recursion available.
    public var recursionAvailable: Bool
    /// Z: reserved, must be zero, kept as received.
    public var reservedBit: Bool
    /// AD: authentic data.
    public var authenticData: Bool
    /// CD: checking disabled.
    public var checkingDisabled: Bool
    /// The low 4 bits of the response code (see `DNSMessage.responseCode` for the extended value).
    public var rcode: UInt8

    public init(
        id: UInt16, isResponse: Bool = false, opcode: UInt8 = 0, isAuthoritative: Bool = false,
        isTruncated: Bool = false, recursionDesired: Bool = false, recursionAvailable: Bool = false,
        reservedBit: Bool = false, authenticData: Bool = false, checkingDisabled: Bool = false, rcode: UInt8 = 0
    ) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode & 0x0F
        self.isAuthoritative = isAuthoritative
        self.isTruncated = isTruncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.reservedBit = reservedBit
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.rcode = rcode & 0x0F
    }

    /// The 16 flag bits as they appear on the wire.
    var flags: UInt16 {
        var value = UInt16(opcode & 0x0F) << 11 | UInt16(rcode & 0x0F)
        if isResponse { value |= 0x8000 }
        if isAuthoritative { value |= 0x0400 }
        if isTruncated { value |= 0x0200 }
        if recursionDesired { value |= 0x0100 }
        if recursionAvailable { value |= 0x0080 }
        if reservedBit { value |= 0x0040 }
        if authenticData { value |= 0x0020 }
        if checkingDisabled { value |= 0x0010 }
        return value
    }

    init(id: UInt16, flags: UInt16) {
        self.init(
            id: id, isResponse: flags & 0x8000 != 0, opcode: UInt8(flags >> 11 & 0x0F),
            isAuthoritative: flags & 0x0400 != 0, isTruncated: flags & 0x0200 != 0,
            recursionDesired: flags & 0x0100 != 0, recursionAvailable: flags & 0x0080 != 0,
            reservedBit: flags & 0x0040 != 0, authenticData: flags & 0x0020 != 0,
            checkingDisabled: flags & 0x0010 != 0, rcode: UInt8(flags & 0x0F))
    }
}
