// MetricsTests: issue 17's metrics — `metrics_listen` answers GET /metrics in a format Prometheus's own
// checker (promtool) accepts, the counters move as mail is sent, refused, fetched and deleted, the commit
// latency is measured on the injected clock, and requests that are not a GET of /metrics get 400/404/405.

import Foundation
@testable import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct MetricsTests {
    static let promtool = ExternalTool.path("promtool")

    /// A test server with a metrics listener on a free loopback port (and the queue on when asked).
    static func office(outbound: Bool = false, hooks: PostOfficeHooks = PostOfficeHooks()) throws -> TestPostOffice {
        try TestPostOffice(users: ["alice@example.test": "secret"], hooks: hooks) { configuration in
            configuration.metricsListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
            configuration.deliversOutbound = outbound
            if outbound { configuration.relayNetworks = NetworkRange.loopback }
        }
    }

    /// Sends `request` as it is and returns the status code, the header block and the body.
    static func http(_ address: SocketAddress, _ request: String) throws -> (status: Int, head: String, body: String) {
        let client = try LineClient(connectingTo: address)
        try client.send(request)
        let response = String(decoding: client.readToEnd(), as: UTF8.self)
        let parts = response.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let statusLine = head.components(separatedBy: "\r\n").first ?? ""
        let fields = statusLine.split(separator: " ")
        let status = fields.count >= 2 ? Int(fields[1]) ?? 0 : 0
        return (status, head, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    static func scrape(_ office: TestPostOffice) throws -> String {
        let address = try #require(office.server.metricsAddresses.first)
        let response = try http(address, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try #require(response.status == 200, "\(response.head)")
        return response.body
    }

    /// The value of one sample (`name` or `name{labels}` exactly as written), or nil.
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// Polls the metrics for up to 10 s (the queue manager counts on its own threads).
    static func eventually(_ office: TestPostOffice, _ condition: (String) -> Bool) throws -> String {
        var text = ""
        for _ in 0..<200 {
            text = try scrape(office)
            if condition(text) { return text }
            usleep(50_000)
        }
        return text
    }

    @Test(.enabled(if: promtool != nil, "promtool is not installed (Debian package prometheus)"))
    func promtoolAcceptsTheExposition() throws {
        let office = try Self.office(outbound: true)
        defer { office.stop() }
        // Something in every family: a message, a refusal, a queued message.
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.sendMail(from: "s@example.net", to: ["alice@example.test"], body: "Subject: a\n\nhi\n").code == 250)
        #expect(try client.command("RCPT TO:<nobody@example.test>").code >= 500)
        #expect(try client.sendMail(from: "s@example.test", to: ["bob@remote.test"], body: "Subject: b\n\nhi\n").code == 250)
        _ = try client.command("QUIT")
        let text = try Self.scrape(office)
        let checked = try ExternalTool.run("promtool", ["check", "metrics"], input: Data(text.utf8))
        #expect(checked.status == 0, "promtool: \(checked.output)\(checked.errorOutput)\n\(text)")
        #expect(text.contains("# TYPE postoffice_commit_latency_seconds histogram"))
        #expect(text.contains("postoffice_commit_latency_seconds_bucket{le=\"+Inf\"} 2"))
    }

    @Test func countersMoveAsMailIsSentRefusedFetchedAndDeleted() throws {
        let office = try Self.office()
        defer { office.stop() }
        let before = try Self.scrape(office)
        #expect(Self.value(before, "postoffice_messages_accepted_total{listener=\"smtp\"}") == 0)
        #expect(Self.value(before, "postoffice_deliveries_total{destination=\"local\"}") == 0)
        #expect(Self.value(before, "postoffice_pop3_deleted_total") == 0)
        // The scrape itself was a connection to the metrics listener.
        #expect(Self.value(before, "postoffice_connections_total{listener=\"metrics\"}") == 1)

        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.sendMail(from: "s@example.net", to: ["alice@example.test"], body: "Subject: one\n\nhello\n").code == 250)
        #expect(try client.command("MAIL FROM:<s@example.net>").code == 250)
        #expect(try client.command("RCPT TO:<nobody@example.test>").code == 550)
        _ = try client.command("QUIT")

        let pop3 = try POP3TestClient(connectingTo: office.pop3Address)
        #expect(try pop3.command("USER alice@example.test").hasPrefix("+OK"))
        #expect(try pop3.command("PASS wrong").hasPrefix("-ERR"))
        let pop3Again = try POP3TestClient(connectingTo: office.pop3Address)
        try pop3Again.login("alice@example.test", password: "secret")
        #expect(try pop3Again.retrieve(1).contains("hello"))
        #expect(try pop3Again.command("DELE 1").hasPrefix("+OK"))
        #expect(try pop3Again.quit().hasPrefix("+OK"))

        let after = try Self.eventually(office) { Self.value($0, "postoffice_pop3_deleted_total") == 1 }
        #expect(Self.value(after, "postoffice_messages_accepted_total{listener=\"smtp\"}") == 1)
        #expect(Self.value(after, "postoffice_deliveries_total{destination=\"local\"}") == 1)
        #expect(Self.value(after, "postoffice_deliveries_total{destination=\"queued\"}") == 0)
        #expect(Self.value(after, "postoffice_smtp_refusals_total{code=\"550\"}") ?? 0 >= 1)
        #expect(Self.value(after, "postoffice_connections_total{listener=\"smtp\"}") == 1)
        #expect(Self.value(after, "postoffice_connections_total{listener=\"pop3\"}") == 2)
        #expect(Self.value(after, "postoffice_pop3_login_failures_total") == 1)
        #expect(Self.value(after, "postoffice_pop3_retrieved_total") == 1)
        #expect(Self.value(after, "postoffice_pop3_deleted_total") == 1)
        #expect(Self.value(after, "postoffice_commit_latency_seconds_count") == 1)
        #expect(Self.value(after, "postoffice_received_bytes_total{listener=\"smtp\"}") ?? 0 > 50)
        #expect(Self.value(after, "process_resident_memory_bytes") ?? 0 > 1_000_000)
        #expect(Self.value(after, "process_open_fds") ?? 0 > 3)
    }

    /// Sessions add their bytes to postoffice_received_bytes_total after each message and when they end (not
    /// on every read): every byte sent before a message's 250 shows once that reply is out, and all of them
    /// once the session is over.
    @Test func receivedBytesAreAddedPerMessageAndAtTheEnd() throws {
        let office = try Self.office()
        defer { office.stop() }
        let client = try LineClient(connectingTo: office.smtpAddress)
        _ = try client.readLine()
        let transaction = [
            "EHLO client.test\r\n", "MAIL FROM:<s@example.net>\r\n", "RCPT TO:<alice@example.test>\r\n", "DATA\r\n",
            "Subject: counted\r\n\r\nhello\r\n.\r\n",
        ]
        for text in transaction {
            try client.send(text)
            while true {
                let line = try client.readLine()
                if line.count < 4 || Array(line.utf8)[3] != UInt8(ascii: "-") { break }
            }
        }
        let sent = transaction.reduce(0) { $0 + $1.utf8.count }
        let afterMessage = try Self.scrape(office)
        #expect(Self.value(afterMessage, "postoffice_received_bytes_total{listener=\"smtp\"}") == Double(sent))
        try client.send("QUIT\r\n")
        _ = try client.readLine()
        let pop3 = try LineClient(connectingTo: office.pop3Address)
        _ = try pop3.readLine()
        try pop3.send("QUIT\r\n")
        _ = try pop3.readLine()
        let after = try Self.eventually(office) {
            Self.value($0, "postoffice_received_bytes_total{listener=\"smtp\"}") == Double(sent + 6)
                && Self.value($0, "postoffice_received_bytes_total{listener=\"pop3\"}") == 6
        }
        #expect(Self.value(after, "postoffice_received_bytes_total{listener=\"smtp\"}") == Double(sent + 6))
        #expect(Self.value(after, "postoffice_received_bytes_total{listener=\"pop3\"}") == 6)
    }

    @Test func authenticationFailuresAreCountedBySubmissionListener() throws {
        let office = try Self.office()
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.submissionAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.login("alice@example.test", password: "wrong").code == 535)
        _ = try client.command("QUIT")
        let text = try Self.scrape(office)
        #expect(Self.value(text, "postoffice_auth_failures_total{listener=\"submission\"}") == 1)
        #expect(Self.value(text, "postoffice_auth_failures_total{listener=\"smtp\"}") == 0)
    }

    @Test func queuedMailShowsInTheQueueGaugesAndDeferrals() throws {
        let office = try Self.office(outbound: true)
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        // TestPostOffice's DNS server is a closed loopback port: the MX lookup fails as temporary.
        #expect(try client.sendMail(from: "s@example.test", to: ["bob@remote.test"], body: "Subject: q\n\nhi\n").code == 250)
        _ = try client.command("QUIT")
        let text = try Self.eventually(office) { Self.value($0, "postoffice_deferrals_total") ?? 0 >= 1 }
        #expect(Self.value(text, "postoffice_deferrals_total") ?? 0 >= 1)
        #expect(Self.value(text, "postoffice_outbound_recipients_total{result=\"deferred\"}") ?? 0 >= 1)
        #expect(Self.value(text, "postoffice_deliveries_total{destination=\"queued\"}") == 1)
        #expect(Self.value(text, "postoffice_queue_messages{state=\"active\"}") == 1)
        #expect(Self.value(text, "postoffice_queue_messages{state=\"held\"}") == 0)
        #expect(Self.value(text, "postoffice_queue_oldest_age_seconds{state=\"active\"}") != nil)
    }

    /// Python's ssl module completes a handshake on the implicit-TLS submission port and on STARTTLS; plain
    /// text sent to the pop3s port fails its handshake. Each lands in its listener's counter.
    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func tlsHandshakesAndFailuresAreCountedByListener() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "secret"], tls: true) { configuration in
            configuration.metricsListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        }
        defer { office.stop() }
        let smtps = try #require(office.smtpsAddress)
        let script = """
            import smtplib, ssl, sys
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            s = smtplib.SMTP_SSL(sys.argv[1], int(sys.argv[2]), context=ctx, timeout=10); s.ehlo(); s.quit()
            s = smtplib.SMTP(sys.argv[1], int(sys.argv[3]), timeout=10); s.starttls(context=ctx); s.ehlo(); s.quit()
            """
        let result = try ExternalTool.python(script, [smtps.host, String(smtps.port), String(office.smtpAddress.port)])
        #expect(result.status == 0, "\(result.errorOutput)")
        let pop3s = try #require(office.pop3sAddress)
        let plain = try LineClient(connectingTo: pop3s)
        try plain.send("USER alice@example.test\r\n")
        _ = plain.readToEnd()
        let text = try Self.eventually(office) { Self.value($0, "postoffice_tls_failures_total{listener=\"pop3s\"}") == 1 }
        #expect(Self.value(text, "postoffice_tls_handshakes_total{listener=\"submissions\"}") == 1)
        #expect(Self.value(text, "postoffice_tls_handshakes_total{listener=\"smtp\"}") == 1)
        #expect(Self.value(text, "postoffice_tls_failures_total{listener=\"pop3s\"}") == 1)
        #expect(Self.value(text, "postoffice_tls_handshakes_total{listener=\"pop3s\"}") == 0)
    }

    /// A deliver hook that moves the injected clock by 0.3 s stands for a slow disk: the commit latency is
    /// exactly 0.3 s on that clock, so it falls in the 0.5 s bucket and not below.
    @Test func commitLatencyIsMeasuredOnTheInjectedClock() throws {
        let clock = ManualClock()
        var hooks = PostOfficeHooks()
        hooks.deliver = { _ in
            clock.advance(microseconds: 300_000)
            return .accepted
        }
        let directory = try LiveTestSupport.temporaryDirectory("metrics-clock")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = PostOfficeConfiguration(hostname: "mx.test", dataDirectory: directory)
        configuration.domains = ["example.test"]
        configuration.smtpListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        configuration.pop3Listeners = []
        configuration.metricsListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        try "alice@example.test:{PLAIN}secret\n".write(toFile: configuration.usersFile, atomically: true, encoding: .utf8)
        let server = try PostOfficeServer(configuration: configuration, hooks: hooks, clock: clock)
        try server.start()
        defer { server.shutdown() }
        let client = try SMTPTestClient(connectingTo: try #require(server.smtpAddresses.first))
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        #expect(try client.sendMail(from: "s@example.net", to: ["alice@example.test"], body: "Subject: t\n\nhi\n").code == 250)
        _ = try client.command("QUIT")
        let text = try Self.http(try #require(server.metricsAddresses.first), "GET /metrics HTTP/1.0\r\n\r\n").body
        #expect(Self.value(text, "postoffice_commit_latency_seconds_bucket{le=\"0.25\"}") == 0)
        #expect(Self.value(text, "postoffice_commit_latency_seconds_bucket{le=\"0.5\"}") == 1)
        #expect(Self.value(text, "postoffice_commit_latency_seconds_sum") == 0.3)
        #expect(Self.value(text, "postoffice_commit_latency_seconds_count") == 1)
    }

    @Test(arguments: [
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        ("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        ("GET /metrics?name=x HTTP/1.0\n\n", 200),
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        ("GET /metrics/../etc HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        ("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
        ("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("GET /metrics HTTP/1.1\r\n\r\n", 400),  // HTTP/1.1 without Host
        ("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 400),
        ("GET http://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /metrics\r\n\r\n", 400),  // HTTP/0.9
        ("EHLO client.test\r\n\r\n", 400),
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        ("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET /metrics HTTP/1.1\r\nHost: x\r\nX: <9000 bytes>\r\n\r\n", 400),  // larger than the head bound
    ])
    func requestsGetTheirStatus(request: String, status: Int) throws {
        let request = request.replacing("<9000 bytes>", with: String(repeating: "a", count: 9000))
        let office = try Self.office()
        defer { office.stop() }
        let address = try #require(office.server.metricsAddresses.first)
        let response = try Self.http(address, request)
        #expect(response.status == status, "\(response.head)\n\(response.body)")
        #expect(response.head.contains("Connection: close"))
        if status == 405 { #expect(response.head.contains("Allow: GET, HEAD")) }
        if request.hasPrefix("HEAD") { #expect(response.body.isEmpty) }
        if status == 200 && !request.hasPrefix("HEAD") {
            #expect(response.head.contains("Content-Type: text/plain; version=0.0.4"))
            #expect(response.body.contains("# TYPE postoffice_connections_total counter"))
        }
    }

    @Test func aClientThatSendsNothingIsDisconnectedAndOthersStillServed() throws {
        let office = try Self.office()
        defer { office.stop() }
        let address = try #require(office.server.metricsAddresses.first)
        let idle = try LineClient(connectingTo: address)
        defer { idle.abort() }
        try idle.send("GET /metr")
        // A half-sent request holds nothing up for the next scraper.
        #expect(try Self.scrape(office).contains("postoffice_connections_open"))
    }
}

@Suite struct HTTPRequestParserTests {
    @Test func aRequestSplitAcrossReadsIsAssembled() {
        var parser = HTTPRequestParser()
        #expect(parser.receive(Array("GET /metrics HT".utf8)) == .incomplete)
        #expect(parser.receive(Array("TP/1.1\r\nHost: a\r\n\r".utf8)) == .incomplete)
        let verdict = parser.receive(Array("\n".utf8))
        guard case .request(let request) = verdict else {
            Issue.record("expected a request, got \(verdict)")
            return
        }
        #expect(request.method == "GET")
        #expect(request.path == "/metrics")
        #expect(request.version == "HTTP/1.1")
        #expect(request.headers.map(\.name) == ["host"])
        #expect(request.headers.map(\.value) == ["a"])
    }

    @Test func aHeadWithoutEndIsRefusedOnceItPassesTheBound() {
        var parser = HTTPRequestParser()
        var verdict = HTTPRequestParser.Verdict.incomplete
        var sent = 0
        while verdict == .incomplete && sent <= HTTPRequestParser.maximumHeadSize + 1024 {
            verdict = parser.receive([UInt8](repeating: UInt8(ascii: "a"), count: 1000))
            sent += 1000
        }
        #expect(verdict == .invalid("request head larger than \(HTTPRequestParser.maximumHeadSize) bytes"))
        #expect(sent <= HTTPRequestParser.maximumHeadSize + 1000)
    }

    @Test(arguments: [
        "GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "G\u{0}T /metrics HTTP/1.0\r\n\r\n",
        "GET /m\u{e9}trics HTTP/1.0\r\n\r\n",
        "GET  /metrics HTTP/1.0\r\n\r\n",
        "\r\n\r\n",
    ])
    func malformedHeadsAreInvalid(text: String) {
        var parser = HTTPRequestParser()
        guard case .invalid = parser.receive(Array(text.utf8)) else {
            Issue.record("accepted \(text.debugDescription)")
            return
        }
    }
}
