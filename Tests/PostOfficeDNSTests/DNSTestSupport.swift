// DNSTestSupport: shorthand for names, records and scripted server responses in the PostOfficeDNS tests.

import PostOfficeCore
@testable import PostOfficeDNS

func name(_ text: String) -> DNSName { try! DNSName(text) }
func ip(_ text: String) -> IPAddress { IPAddress(text)! }
func server(_ text: String) -> DNSServerAddress { DNSServerAddress(parsing: text)! }

func record(_ owner: String, ttl: UInt32 = 300, _ data: DNSRecordData) -> DNSResourceRecord {
    DNSResourceRecord(name: name(owner), ttl: ttl, data: data)
}

func soa(_ zone: String, ttl: UInt32 = 3600, minimum: UInt32 = 60) -> DNSResourceRecord {
    record(
        zone, ttl: ttl,
        .soa(
            DNSRecordData.SOA(
                primaryServer: name("ns1." + zone), responsibleMailbox: name("hostmaster." + zone), serial: 1,
                refresh: 7200, retry: 900, expire: 1_209_600, minimum: minimum)))
}

/// The reply a server would send to `query` (wire bytes): same ID and question, the given sections.
func reply(
    to query: [UInt8], rcode: UInt8 = 0, truncated: Bool = false, answers: [DNSResourceRecord] = [],
    authorities: [DNSResourceRecord] = [], edns: Bool = true, id: UInt16? = nil, question: DNSQuestion? = nil
) -> [UInt8] {
    let asked = try! DNSMessage(decoding: query)
    var header = DNSHeader(
        id: id ?? asked.header.id, isResponse: true, isTruncated: truncated, recursionDesired: true,
        recursionAvailable: true, rcode: rcode)
    header.opcode = 0
    let message = DNSMessage(
        header: header, questions: [question ?? asked.questions[0]], answers: answers, authorities: authorities,
        additionals: edns && asked.edns != nil ? [DNSEDNS().record] : [])
    return try! message.encoded()
}

/// The bytes of a `.send` action (without the TCP length prefix).
func sentQuery(_ action: DNSQueryEngine.Action) -> DNSOutgoingQuery? {
    if case .send(let query) = action { return query } else { return nil }
}
