// POP3ClientInteropTests: real POP3 clients (python3 poplib, mpop, fetchmail) against the engine over a loopback
// socket, to catch wire-format mistakes the in-memory tests would agree with. A test whose tool is absent is
// reported as skipped (its `.enabled(if:)` trait), never passed.
import Foundation
import Testing
@testable import PostOfficePOP3

@Suite struct POP3ClientInteropTests {
    static let messages = [
        LoopbackPOP3Server.StoredMessage(
            uniqueID: "1700000000.M1P1.host", storageKey: "cur/one",
            content: Array("From: a@example.org\nSubject: one\n\nHello\n.dot line\n..two dots\nend".utf8)),
        LoopbackPOP3Server.StoredMessage(
            uniqueID: "1700000001.M2P1.host", storageKey: "cur/two",
            content: Array("Subject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n".utf8)),
    ]

    static func executable(_ name: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let pythonClient = """
        import json, poplib, sys
        p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=20)
        out = {"welcome": p.getwelcome().decode()}
        out["capa"] = sorted(p.capa().keys())
        p.user("alice")
        p.pass_("secret")
        out["stat"] = list(p.stat())
        out["list"] = [l.decode() for l in p.list()[1]]
        out["uidl"] = [l.decode() for l in p.uidl()[1]]
        out["retr1"] = [l.decode() for l in p.retr(1)[1]]
        out["top2"] = [l.decode() for l in p.top(2, 1)[1]]
        p.dele(2)
        out["quit"] = p.quit().decode()
        print(json.dumps(out))
        """

    @Test(.enabled(if: executable("python3") != nil, "python3 is not installed (apt-get install python3)"))
    func pythonPoplibSession() throws {
        let python = try #require(Self.executable("python3"))
        let server = try #require(LoopbackPOP3Server(messages: Self.messages))
        server.serveOneConnection()
        let result = try Self.run(python, ["-c", Self.pythonClient, String(server.port)])
        if result.status != 0 { server.stop() }
        server.waitUntilFinished()
        #expect(result.status == 0, "\(result.output)")
        let json = try #require(result.output.split(separator: "\n").last.map { Data($0.utf8) })
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["welcome"] as? String == "+OK PostOffice ready")
        #expect((object["capa"] as? [String])?.contains("UIDL") == true)
        #expect((object["capa"] as? [String])?.contains("PIPELINING") == true)
        let sizes = Self.messages.map { LoopbackPOP3Server.wireSize($0.content) }
        #expect(object["stat"] as? [Int] == [2, sizes[0] + sizes[1]])
        #expect(object["list"] as? [String] == ["1 \(sizes[0])", "2 \(sizes[1])"])
        #expect(object["uidl"] as? [String] == ["1 1700000000.M1P1.host", "2 1700000001.M2P1.host"])
        #expect(object["retr1"] as? [String]
            == ["From: a@example.org", "Subject: one", "", "Hello", ".dot line", "..two dots", "end"])
        #expect(object["top2"] as? [String] == ["Subject: two", "", "line 1"])
        #expect((object["quit"] as? String)?.hasPrefix("+OK") == true)
        #expect(server.commits.count == 1)
        #expect(server.commits.first?.deleted == ["cur/two"])
        #expect(server.commits.first?.retrieved == ["cur/one"])
    }

    @Test(.enabled(if: executable("mpop") != nil, "mpop is not installed (apt-get install mpop)"))
    func mpopDownloadsIntoMbox() throws {
        let mpop = try #require(Self.executable("mpop"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pop3-mpop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let mbox = directory.appendingPathComponent("mbox").path
        #expect(FileManager.default.createFile(atPath: mbox, contents: Data()))
        let server = try #require(LoopbackPOP3Server(messages: Self.messages))
        server.serveOneConnection()
        let result = try Self.run(mpop, [
            "--file=/dev/null", "--host=127.0.0.1", "--port=\(server.port)", "--tls=off", "--auth=user",
            "--user=alice", "--passwordeval=echo secret", "--keep=on", "--only-new=off",
            "--delivery=mbox,\(mbox)", "--uidls-file=\(directory.appendingPathComponent("uidls").path)", "--quiet",
        ])
        if result.status != 0 { server.stop() }
        server.waitUntilFinished()
        #expect(result.status == 0, "\(result.output)")
        let delivered = try String(contentsOfFile: mbox, encoding: .utf8)
        #expect(delivered.contains("Subject: one"))
        #expect(delivered.contains("\n.dot line\n..two dots\nend\n"))
        #expect(delivered.contains("line 3"))
        #expect(server.commits.first?.deleted == [])
        #expect(server.commits.first?.retrieved == ["cur/one", "cur/two"])
    }

    @Test(.enabled(if: executable("fetchmail") != nil, "fetchmail is not installed (apt-get install fetchmail)"))
    func fetchmailDownloadsThroughMDA() throws {
        let fetchmail = try #require(Self.executable("fetchmail"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pop3-fetchmail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let delivered = directory.appendingPathComponent("delivered").path
        let server = try #require(LoopbackPOP3Server(messages: Self.messages))
        let configurationPath = directory.appendingPathComponent("fetchmailrc").path
        let configuration = """
            set no syslog
            poll 127.0.0.1 protocol POP3 port \(server.port) auth password
              user "alice" password "secret" is "nobody" here
              fetchall keep sslproto '' mda "/bin/sh -c 'cat >> \(delivered)'"

            """
        try configuration.write(toFile: configurationPath, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: configurationPath)
        server.serveOneConnection()
        let result = try Self.run("/usr/bin/env", [
            "FETCHMAILHOME=\(directory.path)", fetchmail, "--fetchmailrc", configurationPath, "--nodetach",
            "--pidfile", directory.appendingPathComponent("pid").path,
        ])
        if result.status != 0 && result.status != 1 { server.stop() }
        server.waitUntilFinished()
        // fetchmail exits 0 when mail was fetched.
        #expect(result.status == 0, "\(result.output)")
        let text = (try? String(contentsOfFile: delivered, encoding: .utf8)) ?? ""
        #expect(text.contains("Subject: one"), "\(result.output)")
        #expect(text.contains(".dot line"))
        #expect(text.contains("line 3"))
        #expect(server.commits.first?.deleted == [])
    }
}
