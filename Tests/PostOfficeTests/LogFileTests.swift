// LogFileTests: `log_file` in postoffice.conf — the server appends its log lines to the file, and after
// logrotate renames it and sends SIGHUP, writes a new one; and contrib/fail2ban/postoffice.conf, run through
// the real fail2ban-regex, finds the client of every failed POP3 login in that log (issue 18, item 8).

import Foundation
import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct LogFileTests {
    static let built = CommandLineEndToEndTests.binary != nil
    static let filter = LiveTestSupport.repositoryRoot + "/contrib/fail2ban/postoffice.conf"

    /// One POP3 session with a wrong password.
    static func failLogin(_ pop3: SocketAddress, user: String) throws {
        let client = try POP3TestClient(connectingTo: pop3)
        #expect(try client.command("USER \(user)").hasPrefix("+OK"))
        #expect(try client.command("PASS wrong").hasPrefix("-ERR"))
        try client.quit()
    }

    /// Waits until `path` holds `count` lines containing `text` (the server logs from its own threads).
    static func waitForLines(_ path: String, containing text: String, count: Int) -> [String] {
        var lines: [String] = []
        for _ in 0..<250 {
            let content = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            lines = content.split(separator: "\n").map(String.init).filter { $0.contains(text) }
            if lines.count >= count { break }
            usleep(20_000)
        }
        return lines
    }

    /// Serves with `log_file = server.log`, fails two logins, rotates the log, fails one more.
    /// Returns the data folder (the caller removes it).
    static func serveFailAndRotate() throws -> String {
        let data = try LiveTestSupport.temporaryDirectory("logfile")
        try "log_file = server.log\nfailed_login_delay_ms = 0\n".write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
        let server = try FirstHourTests.Server(["--data", data])
        defer { server.stop() }
        try failLogin(server.pop3, user: "alice@localhost")
        try failLogin(server.pop3, user: "bob@localhost")
        #expect(waitForLines(data + "/server.log", containing: "event=pop3.login_failed", count: 2).count == 2)
        #expect(rename(data + "/server.log", data + "/server.log.1") == 0)
        #expect(kill(server.process.processIdentifier, SIGHUP) == 0)
        // The reopen happens on the signal queue; a new file shows it has.
        for _ in 0..<250 where !FileManager.default.fileExists(atPath: data + "/server.log") { usleep(20_000) }
        try failLogin(server.pop3, user: "carol@localhost")
        #expect(waitForLines(data + "/server.log", containing: "event=pop3.login_failed", count: 1).count == 1)
        return data
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func theLogFileIsAppendedToAndReopenedOnSIGHUP() throws {
        let data = try Self.serveFailAndRotate()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let rotated = Self.waitForLines(data + "/server.log.1", containing: "event=pop3.login_failed", count: 2)
        #expect(rotated.count == 2)
        #expect(rotated.allSatisfy { $0.hasPrefix("ts=") && $0.contains(" level=info ") })
        let current = Self.waitForLines(data + "/server.log", containing: "event=pop3.login_failed", count: 1)
        #expect(current.first?.contains("user=carol@localhost") == true)
        #expect(Self.waitForLines(data + "/server.log", containing: "event=server.stopped", count: 1).count == 1)
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: ExternalTool.path("fail2ban-regex") != nil, "fail2ban-regex is not installed (apt package fail2ban)"))
    func theFail2banFilterFindsTheClientOfEveryFailedLogin() throws {
        let data = try Self.serveFailAndRotate()
        defer { try? FileManager.default.removeItem(atPath: data) }
        for (file, failures) in [("server.log.1", 2), ("server.log", 1)] {
            let result = try ExternalTool.run("fail2ban-regex", ["-v", data + "/" + file, Self.filter])
            #expect(result.status == 0, "\(result.errorOutput)")
            let lines = result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let hits = try #require(lines.firstIndex { $0.contains("[\(failures)] ^pop3\\.login_failed") }, "\(result.output)")
            // The addresses come from each session's pop3.connect line.
            for offset in 1...failures {
                #expect(lines[hits + offset].hasPrefix("|      127.0.0.1 "), "\(lines[hits + offset])")
            }
        }
        // Written lines with other addresses, to show IPv6 and the session pairing.
        let sample = """
            ts=2026-01-02T03:04:05.000Z level=info event=pop3.connect session=AAAAAAAAAA peer=192.0.2.7:50122 local=127.0.0.1:110 tls=no
            ts=2026-01-02T03:04:05.100Z level=info event=pop3.connect session=BBBBBBBBBB peer=[2001:db8::5]:50123 local=127.0.0.1:110 tls=no
            ts=2026-01-02T03:04:06.000Z level=info event=pop3.login_failed session=BBBBBBBBBB user=bob
            ts=2026-01-02T03:04:07.000Z level=info event=pop3.login_failed session=AAAAAAAAAA user="a b"
            ts=2026-01-02T03:04:08.000Z level=warning event=pop3.login_throttled session=AAAAAAAAAA client=192.0.2.7
            ts=2026-01-02T03:04:09.000Z level=info event=pop3.login session=CCCCCCCCCC user=carol messages=0
            ts=2026-01-02T03:04:10.000Z level=info event=smtp.login_failed session=DDDDDDDDDD client=198.51.100.4 user=dave reason=credentials

            """
        try sample.write(toFile: data + "/sample.log", atomically: true, encoding: .utf8)
        let result = try ExternalTool.run("fail2ban-regex", ["-v", data + "/sample.log", Self.filter])
        let lines = result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let failed = try #require(lines.firstIndex { $0.contains("[2] ^pop3\\.login_failed") }, "\(result.output)")
        #expect(lines[failed + 1].hasPrefix("|      2001:db8::5 "))
        #expect(lines[failed + 2].hasPrefix("|      192.0.2.7 "))
        let throttled = try #require(lines.firstIndex { $0.contains("[1] ^pop3\\.login_throttled") }, "\(result.output)")
        #expect(lines[throttled + 1].hasPrefix("|      192.0.2.7 "))
        let smtp = try #require(lines.firstIndex { $0.contains("[1] ^smtp\\.login_failed") }, "\(result.output)")
        #expect(lines[smtp + 1].hasPrefix("|      198.51.100.4 "))
    }
}
