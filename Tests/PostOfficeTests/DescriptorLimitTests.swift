// DescriptorLimitTests: issue 19 D6. The connection cap follows the open-files limit, so that with a low
// `ulimit -n` new connections are refused with 421 while a transaction already in flight still gets its
// tmp/ file and its 250 (before: max_connections 20000 let idle clients take every descriptor, and DATA
// failed with EMFILE).

import Foundation
@testable import PostOffice
import PostOfficeCore
import Testing

@Suite struct DescriptorLimitTests {
    @Test(arguments: [
        (descriptors: 1024, configured: 20000, expected: 480),
        (descriptors: 160, configured: 20000, expected: 48),
        (descriptors: 1_048_576, configured: 20000, expected: 20000),
        (descriptors: 32, configured: 100, expected: 1),
    ])
    func theCapLeavesAReserveForFiles(_ row: (descriptors: Int, configured: Int, expected: Int)) {
        #expect(DescriptorBudget.allowed(byDescriptors: row.descriptors, configured: row.configured) == row.expected)
    }

    /// Maildirs kept open between deliveries take two descriptors each, out of what connections get; below
    /// 4,096 open files none is kept.
    @Test(arguments: [
        (hardLimit: 1024, openMaildirs: 0, cap: 480),
        (hardLimit: 4095, openMaildirs: 0, cap: 2015),
        (hardLimit: 4096, openMaildirs: 32, cap: 1984),
        (hardLimit: 1_048_576, openMaildirs: 32, cap: 20000),
    ])
    func keptMaildirsComeOutOfTheConnections(_ row: (hardLimit: Int, openMaildirs: Int, cap: Int)) {
        let kept = DescriptorBudget.openMaildirLimit(hardLimit: row.hardLimit)
        #expect(kept == row.openMaildirs)
        #expect(DescriptorBudget.allowed(byDescriptors: row.hardLimit, configured: 20000, openMaildirs: kept) == row.cap)
    }

    static let scenario = """
    import json, re, socket, subprocess, sys
    binary, data = sys.argv[1], sys.argv[2]
    server = subprocess.Popen(["sh", "-c", 'ulimit -n 160 && exec "$0" --data "$1" --smtp 127.0.0.1:0 --pop3 127.0.0.1:0 --submission 127.0.0.1:0', binary, data],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        for line in server.stdout:
            m = re.search(r"SMTP\\s+127\\.0\\.0\\.1:(\\d+)", line)
            if m:
                port = int(m.group(1)); break
        def connect():
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            return s, s.makefile("rb")
        def reply(f):
            lines = []
            while True:
                line = f.readline().decode()
                if not line: return 0, lines
                lines.append(line)
                if line[3:4] != "-": return int(line[:3]), lines
        busy, busyf = connect()
        reply(busyf)
        for command in [b"EHLO c", b"MAIL FROM:<a@example.net>", b"RCPT TO:<postmaster@localhost>"]:
            busy.sendall(command + b"\\r\\n"); reply(busyf)
        idle, codes = [], []
        for _ in range(120):
            try:
                s, f = connect()
                code, _ = reply(f)
            except OSError:
                code = -1
            codes.append(code)
            idle.append(s)
        busy.sendall(b"DATA\\r\\n"); data_code, _ = reply(busyf)
        busy.sendall(b"Subject: in flight\\r\\n\\r\\nstill delivered\\r\\n.\\r\\n"); final, final_lines = reply(busyf)
        print(json.dumps({"greeted": codes.count(220), "refused": codes.count(421), "other": len(codes) - codes.count(220) - codes.count(421),
                          "data": data_code, "final": final, "final_text": "".join(final_lines)}))
    finally:
        server.kill()
    """

    @Test(.enabled(if: CommandLineEndToEndTests.binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func withALowDescriptorLimitNewConnectionsAreRefusedAndATransactionInFlightCompletes() throws {
        let data = try LiveTestSupport.temporaryDirectory("fd-limit")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let result = try ExternalTool.python(Self.scenario, [try #require(CommandLineEndToEndTests.binary), data])
        #expect(result.status == 0, "\(result.errorOutput)")
        let outcome = try #require(
            try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
        #expect(outcome["final"] as? Int == 250, "\(outcome)")
        #expect(outcome["data"] as? Int == 354)
        // (160 - 64) / 2 = 48 connections, the busy one among them.
        #expect((outcome["greeted"] as? Int ?? 0) <= 47, "\(outcome)")
        #expect((outcome["refused"] as? Int ?? 0) >= 70, "\(outcome)")
    }
}
