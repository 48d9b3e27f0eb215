// DNSQueryEngine: the sans-I/O state machine of one lookup. It builds each query (ID from the injected
// RandomSource), takes datagrams, TCP octets, transport failures and timer expiries, and answers with the
// next action: send over UDP or TCP, keep waiting, or the final DNSLookupResult.

import PostOfficeCore

/// One lookup across the configured servers.
///
/// Tries go server by server, `attempts` rounds over the list (resolv.conf semantics), each with a fresh
/// random ID. A truncated UDP answer is asked again over TCP ([RFC 7766](https://www.rfc-editor.org/rfc/rfc7766));
/// FORMERR or BADVERS to an EDNS0 query is asked again without EDNS0
/// ([RFC 6891 §7](https://www.rfc-editor.org/rfc/rfc6891#section-7)). A response is only accepted from the
/// server asked, with the ID, QNAME (any case), QTYPE and QCLASS of the query
/// ([RFC 5452 §9.1](https://www.rfc-editor.org/rfc/rfc5452#section-9.1)); anything else is ignored and the
/// wait goes on.
public struct DNSQueryEngine: Sendable {
    /// What the driver must do next.
    public enum Action: Hashable, Sendable {
        /// Send `query` (a fresh UDP socket, or a new TCP connection), then wait for answers up to its timeout.
        case send(DNSOutgoingQuery)
        /// Keep waiting until the current timeout.
        case wait
        /// Done; later input is ignored.
        case finished(DNSLookupResult)
    }

    public let question: DNSQuestion
    public let configuration: DNSResolverConfiguration
    private let random: any RandomSource

    private var tryIndex = 0
    private var outstanding: DNSOutgoingQuery?
    private var outstandingID: UInt16 = 0
    private var framer = DNSStreamFramer()
    /// Servers (by index) that answered FORMERR/BADVERS to EDNS0; asked without it from then on.
    private var withoutEDNS: Set<Int> = []
    private var lastFailure = DNSTemporaryFailure.timeout
    private var result: DNSLookupResult?

    /// The longest CNAME chain followed inside one answer.
    public static let maxCNAMEHops = 8

    public init(question: DNSQuestion, configuration: DNSResolverConfiguration, random: any RandomSource) {
        self.question = question
        self.configuration = configuration
        self.random = random
    }

    private var totalTries: Int { configuration.servers.count * configuration.attempts }
    private var serverIndex: Int { tryIndex % configuration.servers.count }

    /// The first query.
    public mutating func start() -> Action {
        guard result == nil else { return .finished(result!) }
        return send(transport: .udp)
    }

    /// A datagram arrived on the query's socket from `server`.
    public mutating func receiveDatagram(_ bytes: [UInt8], from server: DNSServerAddress) -> Action {
        if let result { return .finished(result) }
        guard let outstanding, outstanding.transport == .udp, server == outstanding.server else { return .wait }
        return consider(bytes, overTCP: false)
    }

    /// Octets arrived on the TCP connection (any split; frames are reassembled here).
    public mutating func receiveStream(_ bytes: some Collection<UInt8>) -> Action {
        if let result { return .finished(result) }
        guard let outstanding, outstanding.transport == .tcp else { return .wait }
        framer.append(bytes)
        while let message = framer.nextMessage() {
            let action = consider(message, overTCP: true)
            if action != .wait { return action }
        }
        return .wait
    }

    /// Sending failed, the connection was refused, reset or closed early, or ICMP said unreachable.
    public mutating func transportFailed() -> Action {
        if let result { return .finished(result) }
        guard outstanding != nil else { return .wait }
        return nextTry(after: .transport)
    }

    /// The current query's timeout passed without an acceptable answer.
    public mutating func timerExpired() -> Action {
        if let result { return .finished(result) }
        guard outstanding != nil else { return .wait }
        return nextTry(after: .timeout)
    }

    // MARK: - Steps

    private mutating func send(transport: DNSOutgoingQuery.Transport) -> Action {
        outstandingID = UInt16(truncatingIfNeeded: random.next())
        let edns = withoutEDNS.contains(serverIndex) ? nil : DNSEDNS(udpPayloadSize: configuration.ednsPayloadSize)
        let query = DNSMessage.query(id: outstandingID, question: question, edns: edns)
        // A question built from a valid DNSName always fits a message.
        guard let bytes = try? query.encoded() else { return finish(.temporaryFailure(.transport)) }
        framer = DNSStreamFramer()
        let outgoing = DNSOutgoingQuery(
            transport: transport, server: configuration.servers[serverIndex],
            bytes: transport == .tcp ? DNSStreamFramer.frame(bytes) : bytes, usesEDNS: edns != nil,
            timeoutMilliseconds: configuration.timeoutSeconds * 1000)
        outstanding = outgoing
        return .send(outgoing)
    }

    private mutating func nextTry(after failure: DNSTemporaryFailure) -> Action {
        lastFailure = failure
        tryIndex += 1
        guard tryIndex < totalTries else { return finish(.temporaryFailure(lastFailure)) }
        return send(transport: .udp)
    }

    private mutating func finish(_ final: DNSLookupResult) -> Action {
        result = final
        outstanding = nil
        return .finished(final)
    }

    /// Accepts or ignores one response.
    private mutating func consider(_ bytes: [UInt8], overTCP: Bool) -> Action {
        guard let outstanding else { return .wait }
        guard let message = try? DNSMessage(decoding: bytes) else {
            // Some servers cut a too-long answer mid-record and set TC; the header and question suffice.
            if !overTCP, let head = try? DNSMessage(decodingHeaderAndQuestions: bytes), head.header.isTruncated,
                accepts(head)
            {
                return send(transport: .tcp)
            }
            return .wait
        }
        guard accepts(message) else { return .wait }
        if message.header.isTruncated && !overTCP { return send(transport: .tcp) }
        switch message.responseCode {
        case .noError:
            return analyse(message)
        case .nameError:
            return finish(.nameError(negativeTTL: Self.negativeTTL(message)))
        case .formatError, .badVersion, .notImplemented:
            guard outstanding.usesEDNS else { return nextTry(after: .serverFailure) }
            withoutEDNS.insert(serverIndex)
            return send(transport: .udp)
        case .refused:
            return nextTry(after: .refused)
        default:
            return nextTry(after: .serverFailure)
        }
    }

    /// RFC 5452 §9.1: a response to the outstanding query: same ID, opcode QUERY, the same single question.
    private func accepts(_ message: DNSMessage) -> Bool {
        message.header.isResponse && message.header.id == outstandingID && message.header.opcode == 0
            && message.questions.count == 1 && message.questions[0].matches(question)
    }

    /// A NOERROR answer: follow CNAMEs from the question name, then records, NODATA, or a lame referral.
    private mutating func analyse(_ message: DNSMessage) -> Action {
        var name = question.name
        var ttl = UInt32.max
        var hops = 0
        while true {
            let records = message.answers.filter {
                $0.type == question.type && $0.dnsClass == question.dnsClass && $0.name.matches(name)
            }
            if !records.isEmpty {
                ttl = records.reduce(ttl) { min($0, $1.cacheTTL) }
                return finish(.answer(DNSAnswer(canonicalName: name, records: records, ttl: ttl)))
            }
            guard question.type != .cname,
                let alias = message.answers.first(where: { $0.type == .cname && $0.name.matches(name) }),
                case .cname(let target) = alias.data
            else { break }
            hops += 1
            guard hops <= Self.maxCNAMEHops else { return nextTry(after: .cnameChain) }
            ttl = min(ttl, alias.cacheTTL)
            name = target
        }
        // No SOA but NS records in authority and nothing answered: a referral from a server that does not
        // recurse for us; another server may.
        let hasSOA = message.authorities.contains { $0.type == .soa }
        if message.answers.isEmpty && !hasSOA && message.authorities.contains(where: { $0.type == .ns }) {
            return nextTry(after: .lameServer)
        }
        return finish(.noData(negativeTTL: min(Self.negativeTTL(message), ttl)))
    }

    /// RFC 2308 §5: the smaller of the SOA record's TTL and its MINIMUM field; 0 (do not cache) without SOA.
    static func negativeTTL(_ message: DNSMessage) -> UInt32 {
        for record in message.authorities {
            if case .soa(let soa) = record.data { return min(record.cacheTTL, soa.minimum) }
        }
        return 0
    }
}

/// One query to send.
public struct DNSOutgoingQuery: Hashable, Sendable {
    public enum Transport: Hashable, Sendable {
        case udp
        /// A new TCP connection; `bytes` already carry the 2-octet length prefix.
        case tcp
    }

    public var transport: Transport
    public var server: DNSServerAddress
    /// The octets to send: one datagram, or one length-framed message for TCP.
    public var bytes: [UInt8]
    /// True when the query carries an OPT record.
    public var usesEDNS: Bool
    /// How long to wait for an acceptable answer before calling `timerExpired()`.
    public var timeoutMilliseconds: Int
}
