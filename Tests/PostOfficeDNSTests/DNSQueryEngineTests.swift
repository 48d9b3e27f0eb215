// DNSQueryEngineTests: the resolver state machine driven by scripted datagrams, stream octets and timer
// events — spoofed or misdirected answers are ignored, TC moves to TCP, FORMERR drops EDNS0, timeouts
// walk the server list, and the result classes come out right.

import PostOfficeCore
import Testing
@testable import PostOfficeDNS

@Suite struct DNSQueryEngineTests {
    static let servers = [server("127.0.0.53:5353"), server("[::1]:5300")]
    static let configuration = DNSResolverConfiguration(servers: servers, timeoutSeconds: 2, attempts: 2)
    static let mxQuestion = DNSQuestion(name: name("example.com"), type: .mx)

    func engine(_ question: DNSQuestion = mxQuestion, configuration: DNSResolverConfiguration = configuration)
        -> (DNSQueryEngine, DNSOutgoingQuery)
    {
        var engine = DNSQueryEngine(question: question, configuration: configuration, random: SeededRandomSource(seed: 1))
        let first = sentQuery(engine.start())!
        return (engine, first)
    }

    static let mxAnswer = [record("example.com", .mx(preference: 10, exchange: name("mx.example.com")))]

    @Test func firstQueryIsUDPToFirstServerWithRDAndEDNS() throws {
        let (_, query) = engine()
        #expect(query.transport == .udp && query.server == Self.servers[0] && query.timeoutMilliseconds == 2000)
        let message = try DNSMessage(decoding: query.bytes)
        #expect(message.header.recursionDesired && message.questions == [Self.mxQuestion])
        #expect(message.edns?.udpPayloadSize == 1232)
    }

    @Test func queryIDsComeFromTheRandomSource() throws {
        var a = DNSQueryEngine(question: Self.mxQuestion, configuration: Self.configuration, random: SeededRandomSource(seed: 1))
        var b = DNSQueryEngine(question: Self.mxQuestion, configuration: Self.configuration, random: SeededRandomSource(seed: 2))
        let idA = try DNSMessage(decoding: sentQuery(a.start())!.bytes).header.id
        let idB = try DNSMessage(decoding: sentQuery(b.start())!.bytes).header.id
        #expect(idA == UInt16(truncatingIfNeeded: SeededRandomSource(seed: 1).next()))
        #expect(idA != idB)
    }

    @Test func answerIsAccepted() {
        var (engine, query) = engine()
        let action = engine.receiveDatagram(reply(to: query.bytes, answers: Self.mxAnswer), from: query.server)
        guard case .finished(.answer(let answer)) = action else { Issue.record("\(action)"); return }
        #expect(answer.mailExchangers.map(\.exchange) == [name("mx.example.com")])
        #expect(answer.ttl == 300)
    }

    enum Spoof: String, CaseIterable { case wrongID, wrongServer, wrongPort, wrongName, wrongType, wrongClass, notResponse, garbage }

    @Test(arguments: Spoof.allCases)
    func spoofedOrMisdirectedAnswersAreIgnored(spoof: Spoof) {
        var (engine, query) = engine()
        let asked = try! DNSMessage(decoding: query.bytes)
        var bytes = reply(to: query.bytes, answers: Self.mxAnswer)
        var from = query.server
        switch spoof {
        case .wrongID: bytes = reply(to: query.bytes, answers: Self.mxAnswer, id: asked.header.id &+ 1)
        case .wrongServer: from = server("127.0.0.54:5353")
        case .wrongPort: from = server("127.0.0.53:5354")
        case .wrongName:
            bytes = reply(to: query.bytes, answers: Self.mxAnswer, question: DNSQuestion(name: name("example.org"), type: .mx))
        case .wrongType:
            bytes = reply(to: query.bytes, answers: Self.mxAnswer, question: DNSQuestion(name: name("example.com"), type: .a))
        case .wrongClass:
            bytes = reply(to: query.bytes, answers: Self.mxAnswer,
                question: DNSQuestion(name: name("example.com"), type: .mx, dnsClass: DNSClass(rawValue: 3)))
        case .notResponse: bytes[2] &= 0x7F
        case .garbage: bytes = Array(bytes.prefix(20))
        }
        #expect(engine.receiveDatagram(bytes, from: from) == .wait)
        // The real answer still gets through afterwards.
        let action = engine.receiveDatagram(reply(to: query.bytes, answers: Self.mxAnswer), from: query.server)
        guard case .finished(.answer) = action else { Issue.record("\(action)"); return }
    }

    @Test func questionNameMatchesIgnoringCase() {
        var (engine, query) = engine()
        let bytes = reply(to: query.bytes, answers: Self.mxAnswer, question: DNSQuestion(name: name("EXAMPLE.com"), type: .mx))
        guard case .finished(.answer) = engine.receiveDatagram(bytes, from: query.server) else { Issue.record(); return }
    }

    @Test func truncatedAnswerMovesToTCPAndReassemblesFrames() throws {
        var (engine, query) = engine()
        let tcp = sentQuery(engine.receiveDatagram(reply(to: query.bytes, truncated: true), from: query.server))
        #expect(tcp?.transport == .tcp && tcp?.server == query.server)
        let framed = try #require(tcp).bytes
        #expect(Int(framed[0]) << 8 | Int(framed[1]) == framed.count - 2)
        let answer = DNSStreamFramer.frame(reply(to: Array(framed.dropFirst(2)), answers: Self.mxAnswer))
        // Drip: nothing until the last octet.
        for octet in answer.dropLast() { #expect(engine.receiveStream([octet]) == .wait) }
        guard case .finished(.answer) = engine.receiveStream([answer.last!]) else { Issue.record(); return }
    }

    @Test func truncatedAnswerCutMidRecordStillMovesToTCP() {
        var (engine, query) = engine()
        let full = reply(to: query.bytes, truncated: true, answers: Self.mxAnswer)
        let cut = Array(full.prefix(full.count - 5))
        #expect(sentQuery(engine.receiveDatagram(cut, from: query.server))?.transport == .tcp)
    }

    @Test func formatErrorRetriesWithoutEDNSOnTheSameServer() throws {
        var (engine, query) = engine()
        let retry = try #require(sentQuery(engine.receiveDatagram(reply(to: query.bytes, rcode: 1, edns: false), from: query.server)))
        #expect(retry.server == query.server && !retry.usesEDNS)
        #expect(try DNSMessage(decoding: retry.bytes).additionals.isEmpty)
        // FORMERR again, without EDNS: that server is done; the next one is asked (with EDNS).
        let next = try #require(sentQuery(engine.receiveDatagram(reply(to: retry.bytes, rcode: 1), from: retry.server)))
        #expect(next.server == Self.servers[1] && next.usesEDNS)
    }

    @Test func timeoutsWalkServersThenAttemptsThenFail() {
        var (engine, first) = engine()
        var servers = [first.server]
        while case .send(let next) = engine.timerExpired() { servers.append(next.server) }
        #expect(servers == Self.servers + Self.servers)
        #expect(engine.timerExpired() == .finished(.temporaryFailure(.timeout)))
    }

    @Test(arguments: [(UInt8(2), DNSTemporaryFailure.serverFailure), (5, .refused)])
    func serverFailureAndRefusedAreTemporary(rcode: UInt8, failure: DNSTemporaryFailure) {
        let single = DNSResolverConfiguration(servers: [Self.servers[0]], attempts: 1)
        var (engine, query) = engine(configuration: single)
        #expect(engine.receiveDatagram(reply(to: query.bytes, rcode: rcode), from: query.server)
            == .finished(.temporaryFailure(failure)))
    }

    @Test func serverFailureTriesTheNextServer() {
        var (engine, query) = engine()
        let next = sentQuery(engine.receiveDatagram(reply(to: query.bytes, rcode: 2), from: query.server))
        #expect(next?.server == Self.servers[1])
    }

    @Test func transportFailureTriesTheNextServer() {
        var (engine, _) = engine()
        #expect(sentQuery(engine.transportFailed())?.server == Self.servers[1])
    }

    @Test func nameErrorIsFinalWithSOANegativeTTL() {
        var (engine, query) = engine()
        let bytes = reply(to: query.bytes, rcode: 3, authorities: [soa("example.com", ttl: 900, minimum: 120)])
        #expect(engine.receiveDatagram(bytes, from: query.server) == .finished(.nameError(negativeTTL: 120)))
    }

    @Test func noDataUsesTheSmallerOfSOATTLAndMinimum() {
        var (engine, query) = engine()
        let bytes = reply(to: query.bytes, authorities: [soa("example.com", ttl: 30, minimum: 600)])
        #expect(engine.receiveDatagram(bytes, from: query.server) == .finished(.noData(negativeTTL: 30)))
    }

    @Test func referralWithoutSOAIsALameServer() {
        var (engine, query) = engine()
        let bytes = reply(to: query.bytes, authorities: [record("com", .ns(name("a.gtld-servers.net")))])
        #expect(sentQuery(engine.receiveDatagram(bytes, from: query.server))?.server == Self.servers[1])
    }

    @Test func cnameChainInsideTheAnswerIsFollowed() {
        let question = DNSQuestion(name: name("www.example.com"), type: .a)
        var (engine, query) = engine(question)
        let bytes = reply(to: query.bytes, answers: [
            record("www.example.com", ttl: 60, .cname(name("web.example.net"))),
            record("web.example.net", ttl: 600, .cname(name("host.example.org"))),
            record("host.example.org", ttl: 300, .a(ip("192.0.2.7"))),
            record("other.example.org", .a(ip("192.0.2.8"))),
        ])
        let expected = DNSAnswer(
            canonicalName: name("host.example.org"), records: [record("host.example.org", ttl: 300, .a(ip("192.0.2.7")))],
            ttl: 60)
        #expect(engine.receiveDatagram(bytes, from: query.server) == .finished(.answer(expected)))
    }

    @Test func cnameLoopIsNotFollowedForever() {
        let single = DNSResolverConfiguration(servers: [Self.servers[0]], attempts: 1)
        let question = DNSQuestion(name: name("a.example"), type: .a)
        var (engine, query) = engine(question, configuration: single)
        let bytes = reply(to: query.bytes, answers: [
            record("a.example", .cname(name("b.example"))), record("b.example", .cname(name("a.example"))),
        ])
        #expect(engine.receiveDatagram(bytes, from: query.server) == .finished(.temporaryFailure(.cnameChain)))
    }

    @Test func inputAfterTheResultChangesNothing() {
        var (engine, query) = engine()
        let final = engine.receiveDatagram(reply(to: query.bytes, answers: Self.mxAnswer), from: query.server)
        #expect(engine.timerExpired() == final)
        #expect(engine.transportFailed() == final)
    }
}
