// DNSMessage: a whole DNS message (header and four sections) with its wire codec. Decoding validates
// every length and compression pointer and throws DNSMessageError; encoding compresses names.

/// A DNS query or response.
///
/// See [RFC 1035 §4](https://www.rfc-editor.org/rfc/rfc1035#section-4) and, for the OPT record,
/// [RFC 6891](https://www.rfc-editor.org/rfc/rfc6891).
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    public var additionals: [DNSResourceRecord]

    /// The largest message: TCP's 2-octet length prefix (RFC 7766 §8).
    public static let maxLength = 65535

    public init(
        header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
        authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = []
    ) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// A standard recursive query (RD set) for one question, with an OPT record advertising `edns`
    /// unless it is nil.
    public static func query(id: UInt16, question: DNSQuestion, edns: DNSEDNS? = DNSEDNS()) -> DNSMessage {
        DNSMessage(
            header: DNSHeader(id: id, recursionDesired: true), questions: [question],
            additionals: edns.map { [$0.record] } ?? [])
    }

    /// Decodes a message; throws on anything malformed. Octets after the last record are ignored.
    public init(decoding bytes: [UInt8]) throws(DNSMessageError) {
        var reader = DNSMessageReader(bytes)
        let id = try reader.readUInt16()
        let flags = try reader.readUInt16()
        let counts = [try reader.readUInt16(), try reader.readUInt16(), try reader.readUInt16(), try reader.readUInt16()]
        header = DNSHeader(id: id, flags: flags)
        questions = []
        for _ in 0..<counts[0] { questions.append(try reader.readQuestion()) }
        answers = try reader.readRecords(count: counts[1])
        authorities = try reader.readRecords(count: counts[2])
        additionals = try reader.readRecords(count: counts[3])
    }

    /// Decodes only the header and the question section (the records are left out), for truncated answers
    /// whose record sections were cut mid-record.
    public init(decodingHeaderAndQuestions bytes: [UInt8]) throws(DNSMessageError) {
        var reader = DNSMessageReader(bytes)
        let id = try reader.readUInt16()
        let flags = try reader.readUInt16()
        let questionCount = try reader.readUInt16()
        header = DNSHeader(id: id, flags: flags)
        _ = try reader.readBytes(6)
        questions = []
        for _ in 0..<questionCount { questions.append(try reader.readQuestion()) }
        answers = []
        authorities = []
        additionals = []
    }

    /// The wire form, names compressed; throws when a field or the message does not fit.
    public func encoded() throws(DNSMessageError) -> [UInt8] {
        var writer = DNSMessageWriter()
        for count in [questions.count, answers.count, authorities.count, additionals.count] where count > 0xFFFF {
            throw .tooLong("section with \(count) entries")
        }
        writer.writeUInt16(header.id)
        writer.writeUInt16(header.flags)
        for count in [questions.count, answers.count, authorities.count, additionals.count] {
            writer.writeUInt16(UInt16(count))
        }
        for question in questions {
            writer.writeName(question.name)
            writer.writeUInt16(question.type.rawValue)
            writer.writeUInt16(question.dnsClass.rawValue)
        }
        for record in answers + authorities + additionals { try writer.writeRecord(record) }
        guard writer.bytes.count <= Self.maxLength else { throw .tooLong("message of \(writer.bytes.count) octets") }
        return writer.bytes
    }

    /// The EDNS0 parameters of the first OPT record in the additional section, if any.
    public var edns: DNSEDNS? {
        additionals.lazy.compactMap { DNSEDNS(record: $0) }.first
    }

    /// The full response code: the header's 4 bits extended by the OPT record's upper 8 bits.
    public var responseCode: DNSResponseCode {
        DNSResponseCode(rawValue: UInt16(edns?.extendedRCode ?? 0) << 4 | UInt16(header.rcode))
    }
}
