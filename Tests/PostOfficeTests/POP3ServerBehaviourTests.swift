// POP3ServerBehaviourTests: what the server runtime adds around the POP3 engine, on real sockets — shutdown
// and the autologout timer end a session without UPDATE (nothing deleted), a 50 MB RETR is streamed
// from the file without the server holding the message in memory, and a read error in the middle of RETR
// closes the connection rather than ending a truncated message with ".".

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.serialized) struct POP3ServerBehaviourTests {
    static let user = "alice@example.test"

    /// Writes `count` small messages straight into the user's Maildir; returns their base names.
    @discardableResult
    static func seed(_ office: TestPostOffice, count: Int) throws -> [String] {
        let address = try #require(MailAddress(user))
        let maildir = try #require(office.server.maildirPath(for: address))
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: maildir + "/" + sub, withIntermediateDirectories: true)
        }
        return try (1...count).map { index in
            let name = "100000000\(index).A\(index).mx.test"
            try "Subject: seeded \(index)\n\nbody \(index)\n".write(toFile: maildir + "/new/" + name, atomically: true, encoding: .utf8)
            return name
        }
    }

    @Test func shutdownEndsASessionWithoutUpdate() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        try Self.seed(office, count: 2)
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(Self.user, password: "pw")
        #expect(try client.command("DELE 1") == "+OK Message 1 deleted")
        _ = try client.retrieve(2)

        let server = office.server
        let finished = DispatchSemaphore(value: 0)
        Thread {
            server.shutdown()
            finished.signal()
        }.start()
        #expect(try client.connection.readLine() == "-ERR [SYS/TEMP] Server shutting down")
        #expect(client.connection.readToEnd().isEmpty)
        #expect(finished.wait(timeout: .now() + 30) == .success)
        // No UPDATE: the deletion is forgotten and the message read stays unread in new/.
        #expect(office.messages(for: Self.user).count == 2)
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        #expect(LiveTestSupport.files(in: maildir + "/new").count == 2)
    }

    @Test func theAutologoutTimerClosesWithoutUpdate() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"]) { $0.limits.pop3IdleTimeoutSeconds = 1 }
        defer { office.stop() }
        try Self.seed(office, count: 1)
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(Self.user, password: "pw")
        #expect(try client.command("DELE 1") == "+OK Message 1 deleted")
        // RFC 1939 §3: the autologout timer closes the session without entering UPDATE, and without a reply.
        #expect(client.connection.readToEnd().isEmpty)
        #expect(client.connection.isClosedByPeer())
        for _ in 0..<500 where office.server.connectionCount > 0 { usleep(10_000) }
        #expect(office.messages(for: Self.user).count == 1)
        // The maildrop lock was released: a new session logs in.
        let next = try POP3TestClient(connectingTo: office.pop3Address)
        try next.login(Self.user, password: "pw")
        #expect(try next.stat().count == 1)
        try next.quit()
    }

    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func aFiftyMegabyteRetrieveIsStreamed() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: maildir + "/" + sub, withIntermediateDirectories: true)
        }
        // 50 MiB of 100-byte LF lines, every tenth starting with a dot; written in pieces, never held whole.
        let path = maildir + "/new/1000000001.big.mx.test"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        var lineCount = 0
        var dotLines = 0
        var fileSize = 0
        var piece = Data()
        var line = [UInt8](repeating: UInt8(ascii: "y"), count: 99) + [10]
        piece.append(contentsOf: Array("Subject: big\n\n".utf8))
        lineCount = 2
        while fileSize + piece.count < 50 * 1024 * 1024 {
            line[0] = lineCount % 10 == 0 ? UInt8(ascii: ".") : UInt8(ascii: "y")
            if lineCount % 10 == 0 { dotLines += 1 }
            piece.append(contentsOf: line)
            lineCount += 1
            if piece.count >= 1 << 20 {
                handle.write(piece)
                fileSize += piece.count
                piece.removeAll(keepingCapacity: true)
            }
        }
        handle.write(piece)
        fileSize += piece.count
        try handle.close()

        let before = try #require(LiveTestSupport.residentBytes())
        let peak = LockedBox(before)
        let done = LockedBox(false)
        let sampler = Thread {
            while !done.value {
                if let now = LiveTestSupport.residentBytes() { peak.update { $0 = max($0, now) } }
                usleep(20_000)
            }
        }
        sampler.start()
        // poplib reads the whole answer, un-stuffs it and reports what it got.
        let script = """
            import poplib, sys
            p = poplib.POP3(sys.argv[1], int(sys.argv[2]))
            p.user(sys.argv[3]); p.pass_(sys.argv[4])
            print(p.list(1).decode())
            response, lines, octets = p.retr(1)
            print(response.decode())
            print(len(lines), sum(len(l) + 1 for l in lines), sum(1 for l in lines if l.startswith(b'.')))
            p.quit()
            """
        let result = try ExternalTool.run(
            "python3", ["-c", script, office.pop3Address.host, String(office.pop3Address.port), Self.user, "pw"],
            timeoutSeconds: 300)
        done.update { $0 = true }
        try #require(result.status == 0, "\(result.errorOutput)")
        let growth = peak.value - before
        print("RSS growth while sending a 50 MB message over POP3: \(growth / 1024) KiB")
        #expect(growth < 64 * 1024 * 1024)
        let lines = result.output.split(separator: "\n").map(String.init)
        let wireSize = fileSize + lineCount
        #expect(lines.first == "+OK 1 \(wireSize)")
        #expect(lines.dropFirst().first == "+OK \(wireSize) octets")
        #expect(lines.last == "\(lineCount) \(fileSize) \(dotLines)")
    }

    /// A message file whose read fails after it opened: `/proc/<pid>/mem` of this process bind-mounted over it
    /// (a regular file; reading at offset 0 gives EIO), as GlusterFS gives ESTALE when another host removes an
    /// open file. Needs root for the bind mount.
    @Test(.enabled(if: getuid() == 0 && ExternalTool.path("mount") != nil, "needs root and mount(8) for a bind mount"))
    func aReadErrorInRetrieveClosesWithoutTheTerminator() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let names = try Self.seed(office, count: 2)
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(Self.user, password: "pw")
        #expect(try client.command("DELE 2") == "+OK Message 2 deleted")
        // After login (which measured the real file), the file becomes one whose reads fail.
        let target = maildir + "/new/" + names[0]
        let bind = try ExternalTool.run("mount", ["--bind", "/proc/\(getpid())/mem", target], timeoutSeconds: 30)
        try #require(bind.status == 0, "\(bind.errorOutput)")
        defer { _ = try? ExternalTool.run("umount", [target], timeoutSeconds: 30) }
        try client.connection.send("RETR 1\r\n")
        let answer = String(decoding: client.connection.readToEnd(), as: UTF8.self)
        #expect(answer.hasPrefix("+OK"))
        // No "." line: the client sees a connection lost in the middle of the message, not a short message.
        #expect(!answer.hasSuffix("\r\n.\r\n"))
        #expect(client.connection.isClosedByPeer())
        // The session ended without UPDATE: message 2, marked deleted, is still there.
        for _ in 0..<500 where office.server.connectionCount > 0 { usleep(10_000) }
        #expect(LiveTestSupport.files(in: maildir + "/new").count == 2)
    }
}
