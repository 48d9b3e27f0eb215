// DNSTransportTests: DNSTransport against a real DNS server — dnsmasq on a loopback address with records
// given on its command line — for MX, A, AAAA, TXT, NXDOMAIN, NODATA, a TXT answer too big for 1232 octets
// (so TCP), MX routing end to end, the cache, and a silent server (timeout). Needs apt package dnsmasq-base.

import Foundation
import PostOfficeCore
import PostOfficeDNS
import Testing
@testable import PostOffice

/// A dnsmasq process answering only from its command line, on 127.0.53.1 and a free port.
final class DNSMasqServer: @unchecked Sendable {
    static let host = "127.0.53.1"
    static var isInstalled: Bool { ExternalTool.path("dnsmasq") != nil }

    let port: UInt16
    private let process = Process()

    /// 8 strings of 200 octets: 1600+ octets of TXT, more than the 1232 we advertise.
    static let bigStrings = (0..<8).map { String(repeating: String($0), count: 200) }

    /// `records`: more dnsmasq record options (`--mx-host=...`, `--host-record=...`) for a test's own names.
    init(records: [String] = []) throws {
        port = try Self.freePort()
        // No shell in between: dnsmasq would keep quotes as part of the strings.
        let big = Self.bigStrings.joined(separator: ",")
        process.executableURL = URL(fileURLWithPath: ExternalTool.path("dnsmasq")!)
        process.arguments = [
            "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
            "--port=\(port)", "--listen-address=\(Self.host)", "--bind-interfaces", "--local=/test/",
            "--local-ttl=300",
            "--mx-host=mail.test,mx1.mail.test,10", "--mx-host=mail.test,mx2.mail.test,20",
            "--host-record=mx1.mail.test,127.0.0.11,::11", "--host-record=mx2.mail.test,127.0.0.12",
            "--txt-record=txt.test,v=spf1 -all,second string", "--txt-record=big.test,\(big)",
        ] + records
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        do {
            try waitUntilAnswering()
        } catch {
            kill(process.processIdentifier, SIGKILL)
            throw error
        }
    }

    deinit {
        // SIGKILL, not terminate(): the child inherits the test runner's signal mask, where SIGTERM is blocked.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var configuration: DNSResolverConfiguration {
        try! DNSResolverConfiguration(servers: [], timeoutSeconds: 2, attempts: 1)
            .overridingServers(["\(Self.host):\(port)"])
    }

    /// Asks until dnsmasq answers (it binds within milliseconds; allow a slow CI machine ten seconds).
    /// Before it binds, the query meets ICMP port unreachable and fails at once; so pause between tries.
    private func waitUntilAnswering() throws {
        let quick = try! DNSResolverConfiguration(servers: [], timeoutSeconds: 1, attempts: 1)
            .overridingServers(["\(Self.host):\(port)"])
        for _ in 0..<100 {
            if case .answer = DNSTransport(configuration: quick).lookup(try DNSName("mail.test"), .mx) { return }
            guard process.isRunning else { break }
            usleep(100_000)
        }
        throw DNSMasqNotAnswering(address: "\(Self.host):\(port)")
    }

    /// A port free for both UDP and TCP on the test address (the kernel picks; we close and reuse it).
    private static func freePort() throws -> UInt16 {
        for _ in 0..<20 {
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(udp) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, host, &address.sin_addr)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(udp, $0, length) == 0 && getsockname(udp, $0, &length) == 0
                }
            }
            guard bound else { continue }
            let port = UInt16(bigEndian: address.sin_port)
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(tcp) }
            var tcpAddress = address
            let tcpBound = withUnsafeMutablePointer(to: &tcpAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(tcp, $0, length) == 0 }
            }
            if tcpBound { return port }
        }
        throw DNSMasqNotAnswering(address: "\(host) (no free port)")
    }
}

struct DNSMasqNotAnswering: Error, CustomStringConvertible {
    var address: String
    var description: String { "dnsmasq did not answer on \(address)" }
}

/// Records the transports of the queries sent.
final class QueryLog: @unchecked Sendable {
    private let lock = Lock()
    private var entries: [DNSOutgoingQuery.Transport] = []
    func record(_ query: DNSOutgoingQuery) { lock.withLock { entries.append(query.transport) } }
    var transports: [DNSOutgoingQuery.Transport] { lock.withLock { entries } }
}

@Suite(.enabled(if: DNSMasqServer.isInstalled, "dnsmasq is not installed (apt-get install dnsmasq-base)"))
struct DNSTransportTests {
    func name(_ text: String) -> DNSName { try! DNSName(text) }

    @Test func mxAAndAAAAOverUDP() throws {
        let server = try DNSMasqServer()
        let log = QueryLog()
        let transport = DNSTransport(configuration: server.configuration, observer: log.record)
        guard case .answer(let mx) = transport.lookup(name("mail.test"), .mx) else { Issue.record(); return }
        #expect(Set(mx.mailExchangers.map { "\($0.preference) \($0.exchange)" }) == ["10 mx1.mail.test", "20 mx2.mail.test"])
        guard case .answer(let a) = transport.lookup(name("MX1.mail.test"), .a) else { Issue.record(); return }
        #expect(a.addresses == [IPAddress("127.0.0.11")!])
        guard case .answer(let aaaa) = transport.lookup(name("mx1.mail.test"), .aaaa) else { Issue.record(); return }
        #expect(aaaa.addresses.map(\.description) == ["::11"])
        #expect(log.transports == [.udp, .udp, .udp])
    }

    @Test func txtWithSeveralStrings() throws {
        let server = try DNSMasqServer()
        let result = DNSTransport(configuration: server.configuration).lookup(name("txt.test"), .txt)
        guard case .answer(let answer) = result, case .txt(let strings) = answer.records.first?.data else {
            Issue.record("\(result)")
            return
        }
        #expect(strings.map { String(decoding: $0, as: UTF8.self) } == ["v=spf1 -all", "second string"])
    }

    @Test func nameErrorAndNoData() throws {
        let server = try DNSMasqServer()
        let transport = DNSTransport(configuration: server.configuration)
        let missing = transport.lookup(name("nowhere.test"), .mx)
        guard case .nameError = missing else { Issue.record("\(missing)"); return }
        let noMX = transport.lookup(name("mx1.mail.test"), .mx)
        guard case .noData = noMX else { Issue.record("\(noMX)"); return }
    }

    @Test func answerOver1232OctetsComesOverTCP() throws {
        let server = try DNSMasqServer()
        let log = QueryLog()
        let result = DNSTransport(configuration: server.configuration, observer: log.record).lookup(name("big.test"), .txt)
        guard case .answer(let answer) = result, case .txt(let strings) = answer.records.first?.data else {
            Issue.record("\(result)")
            return
        }
        #expect(strings.map { String(decoding: $0, as: UTF8.self) } == DNSMasqServer.bigStrings)
        #expect(log.transports == [.udp, .tcp])
    }

    @Test func mailRoutingEndToEnd() throws {
        let server = try DNSMasqServer()
        let transport = DNSTransport(configuration: server.configuration, random: SeededRandomSource(seed: 3))
        let targets = try transport.route(domain: name("mail.test"), localNames: []).get()
        #expect(targets.map { "\($0.host) \($0.address)" } == ["mx1.mail.test ::11", "mx1.mail.test 127.0.0.11", "mx2.mail.test 127.0.0.12"])
        // We are mx2: only mx1 (better) remains. We are mx1: mail loops back.
        #expect(try transport.route(domain: name("mail.test"), localNames: [name("mx2.mail.test")]).get().count == 2)
        guard case .failure(let failure) = transport.route(domain: name("mail.test"), localNames: [name("mx1.mail.test")])
        else { Issue.record(); return }
        #expect(failure.status == EnhancedStatusCode(5, 4, 6))
    }

    @Test func cacheAnswersRepeatedLookups() throws {
        let server = try DNSMasqServer()
        let log = QueryLog()
        let transport = DNSTransport(configuration: server.configuration, cache: DNSCache(clock: ManualClock()), observer: log.record)
        let first = transport.lookup(name("mail.test"), .mx)
        #expect(transport.lookup(name("Mail.Test"), .mx) == first)
        #expect(log.transports.count == 1)
    }
}

@Suite struct DNSTransportSilentServerTests {
    /// A UDP socket that never answers: each try times out, then the lookup is a temporary failure.
    @Test func silentServerTimesOut() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.53.2", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) + getsockname(fd, $0, &length) }
        }
        let configuration = try DNSResolverConfiguration(servers: [], timeoutSeconds: 1, attempts: 2)
            .overridingServers(["127.0.53.2:\(UInt16(bigEndian: address.sin_port))"])
        let log = QueryLog()
        let started = Date()
        let result = DNSTransport(configuration: configuration, observer: log.record).lookup(try DNSName("mail.test"), .mx)
        #expect(result == .temporaryFailure(.timeout))
        #expect(log.transports == [.udp, .udp])
        #expect(Date().timeIntervalSince(started) >= 1.9)
    }
}
