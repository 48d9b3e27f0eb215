// ReplyBackPressureTests: issue 19 D1. A client that pipelines cheap commands and never reads the replies
// must not grow the server's memory: the server stops reading once its replies back up, so the client's
// sends stall in TCP flow control and the server's RSS stays flat. Before the fix, 71 MB of `EHLO x` grew
// the server by 1.2 GB. SMTP and POP3, plaintext and implicit TLS.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ReplyBackPressureTests {
    enum Service: String, Sendable { case smtp, smtps, pop3, pop3s }

    struct Flood: Sendable, CustomStringConvertible {
        var service: Service
        var command: String
        var description: String { "\(service.rawValue) \(command)" }
    }

    /// Sends up to 64 MB of one command without reading a byte back, until a send stalls for 3 s; reports
    /// what was sent and the server process's VmRSS (this process: the server is embedded) before and after.
    static let floodScript = """
    import socket, ssl, sys
    host, port, tls, command, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5]
    def rss():
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    s = socket.create_connection((host, port), timeout=10)
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        s = context.wrap_socket(s)
    s.recv(512)  # the greeting
    before = rss()
    block = (command + "\\r\\n").encode() * (65536 // (len(command) + 2))
    s.settimeout(3)
    sent, limit, stalled = 0, 64 * 1024 * 1024, False
    while sent < limit:
        try:
            sent += s.send(block)
        except (socket.timeout, ssl.SSLWantWriteError):
            stalled = True
            break
    after = rss()
    print(sent, before, after, int(stalled))
    """

    static let floods: [Flood] = [
        Flood(service: .smtp, command: "EHLO x"),
        Flood(service: .smtp, command: "HELP"),
        Flood(service: .smtps, command: "NOOP"),
        Flood(service: .pop3, command: "CAPA"),
        Flood(service: .pop3s, command: "CAPA"),
    ]

    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"), arguments: floods)
    func pipelinedCommandsThatAreNeverReadKeepMemoryBounded(_ flood: Flood) throws {
        let office = try TestPostOffice(tls: true)
        defer { office.stop() }
        let address: SocketAddress
        switch flood.service {
        case .smtp: address = office.smtpAddress
        case .smtps: address = try #require(office.smtpsAddress)
        case .pop3: address = office.pop3Address
        case .pop3s: address = try #require(office.pop3sAddress)
        }
        let isTLS = flood.service == .smtps || flood.service == .pop3s
        let result = try ExternalTool.python(
            Self.floodScript, [address.host, String(address.port), isTLS ? "1" : "0", flood.command, String(getpid())])
        #expect(result.status == 0, "\(result.errorOutput)")
        let numbers = result.output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        try #require(numbers.count == 4, "unexpected output: \(result.output) \(result.errorOutput)")
        let (sent, before, after, stalled) = (numbers[0], numbers[1], numbers[2], numbers[3])
        // The server stopped reading: the client could not push the whole 64 MB into it.
        #expect(stalled == 1, "the server read all \(sent) bytes without the client reading a reply")
        #expect(sent < 64 * 1024 * 1024)
        // And its memory did not follow what was sent (the bound leaves room for tests running alongside).
        #expect(after - before < 48 * 1024 * 1024, "RSS grew by \((after - before) / 1024) KiB after \(sent / 1024) KiB sent")
    }
}
