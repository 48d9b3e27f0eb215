// POP3ServerBehaviourTests: what the server runtime adds around the POP3 engine, on real sockets — shutdown
// and the autologout timer end a session without UPDATE (nothing deleted), a 50 MB RETR is streamed
// from the file without the server holding the message in memory, a read error in the middle of RETR
// closes the connection rather than ending a truncated message with ".", files around the read chunk's size
// and files whose size differs from the listed one come back whole, and RETR leaves the access time alone.

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
        try expectRetrieveClosesWithoutTheTerminator(withMessageReplacedBy: "/proc/\(getpid())/mem")
    }

    /// Logs in (which measures the real files), marks message 2 deleted, then bind-mounts `source` over message
    /// 1 and RETRs it: "+OK", no "." line (the client sees a connection lost in the middle of the message, not a
    /// short message), the connection closed, and no UPDATE (message 2 is still there).
    func expectRetrieveClosesWithoutTheTerminator(withMessageReplacedBy source: String) throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let names = try Self.seed(office, count: 2)
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(Self.user, password: "pw")
        #expect(try client.command("DELE 2") == "+OK Message 2 deleted")
        let target = maildir + "/new/" + names[0]
        let bind = try ExternalTool.run("mount", ["--bind", source, target], timeoutSeconds: 30)
        try #require(bind.status == 0, "\(bind.errorOutput)")
        defer { _ = try? ExternalTool.run("umount", [target], timeoutSeconds: 30) }
        try client.connection.send("RETR 1\r\n")
        let answer = String(decoding: client.connection.readToEnd(), as: UTF8.self)
        #expect(answer.hasPrefix("+OK"))
        #expect(!answer.hasSuffix("\r\n.\r\n"))
        #expect(client.connection.isClosedByPeer())
        for _ in 0..<500 where office.server.connectionCount > 0 { usleep(10_000) }
        #expect(LiveTestSupport.files(in: maildir + "/new").count == 2)
    }

    /// A file that ends before the size `fstat` gave when RETR opened it (a sysfs attribute reports 4,096 bytes
    /// and reads a few): Maildir files never shrink, so the bytes were lost underneath (a GlusterFS replica after
    /// a brick failure served such reads). RETR must not end the short message with "." as if it were whole.
    @Test(.enabled(if: getuid() == 0 && ExternalTool.path("mount") != nil, "needs root and mount(8) for a bind mount"))
    func aFileEndingBeforeItsSizeClosesWithoutTheTerminator() throws {
        let short = "/sys/kernel/uevent_seqnum"
        var status = stat()
        try #require(stat(short, &status) == 0 && status.st_size > 64, "\(short) should report a page")
        try expectRetrieveClosesWithoutTheTerminator(withMessageReplacedBy: short)
    }

    /// A message of `size` bytes in lines of 64 (the last one maybe without its LF).
    static func content(size: Int) -> String {
        let line = String(repeating: "a", count: 63) + "\n"
        return String(String(repeating: line, count: size / 64 + 1).prefix(size))
    }

    /// The lines RETR should give back for `content` (what POP3TestClient.retrieve returns).
    static func expectedLines(_ content: String) -> [String] {
        var lines = content.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// Around the server's 64 KiB read chunk: RETR stops reading once a short read reaches the size the
    /// open file had, so a file that fills whole chunks, an empty one and one a byte past must all come back
    /// whole, followed by the next message.
    @Test(arguments: [0, 1, 65_535, 65_536, 65_537, 131_072, 200_000])
    func filesAroundTheReadChunkComeBackWhole(size: Int) throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        let names = try Self.seed(office, count: 2)
        let content = Self.content(size: size)
        try content.write(toFile: maildir + "/new/" + names[0], atomically: true, encoding: .utf8)
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(Self.user, password: "pw")
        #expect(try client.retrieve(1) == Self.expectedLines(content))
        #expect(try client.retrieve(2) == ["Subject: seeded 2", "", "body 2"])
        #expect(try client.quit().hasPrefix("+OK"))
    }

    /// A file whose size is not the listed one (a wrong W= in its name, or a file rewritten after login) is
    /// sent as it is on disk, whole, with its terminating "." — never cut at the listed size.
    @Test(arguments: [(",W=5", 0), (",W=999999", 0), ("", 70_000), ("", -20)])
    func aFileWhoseSizeIsNotTheListedOneComesBackWhole(nameSuffix: String, changeAfterLogin: Int) throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        try Self.seed(office, count: 1)
        let path = maildir + "/new/1700000000.B1.mx.test" + nameSuffix
        let original = Self.content(size: 3000)
        try original.write(toFile: path, atomically: true, encoding: .utf8)
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(Self.user, password: "pw")
        var content = original
        if changeAfterLogin != 0 {
            // Rewritten in place after LIST measured it: longer, or shorter.
            content = changeAfterLogin > 0 ? original + Self.content(size: changeAfterLogin) : String(original.dropLast(-changeAfterLogin))
            try content.write(toFile: path, atomically: false, encoding: .utf8)
        }
        // The seeded message was delivered earlier (1000000001), so this one is number 2.
        #expect(try client.retrieve(2) == Self.expectedLines(content))
        #expect(try client.command("NOOP").hasPrefix("+OK"))
        #expect(try client.quit().hasPrefix("+OK"))
    }

    /// RETR opens message files with O_NOATIME (when permitted: the server owns them or is root), so reading a
    /// message does not dirty its inode; under relatime an access time older than the file's change would
    /// otherwise be updated.
    @Test func retrieveLeavesTheAccessTimeAlone() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        let names = try Self.seed(office, count: 1)
        let path = maildir + "/new/" + names[0]
        var before = stat()
        try #require(stat(path, &before) == 0)
        // An access time of 2000-01-01, older than the modification time: relatime would update it on a read.
        var times = [timespec(tv_sec: 946_684_800, tv_nsec: 0), before.st_mtim]
        try #require(utimensat(AT_FDCWD, path, &times, 0) == 0)
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(Self.user, password: "pw")
        #expect(try client.retrieve(1) == ["Subject: seeded 1", "", "body 1"])
        var status = stat()
        try #require(stat(path, &status) == 0)
        #expect(status.st_atim.tv_sec == 946_684_800)
        #expect(try client.quit().hasPrefix("+OK"))
    }

    /// A session's UPDATE marks what it retrieved seen (new/ → cur/ with ":2,S"): the next session lists the
    /// same sizes (the size count is cached by the message's base name, which the rename keeps).
    @Test func sizesAreTheSameAfterTheSeenFlagRenamedTheFiles() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        let names = try Self.seed(office, count: 2)
        try Self.content(size: 5000).write(toFile: maildir + "/new/" + names[1], atomically: true, encoding: .utf8)
        let first = try POP3TestClient(connectingTo: office.pop3Address)
        try first.login(Self.user, password: "pw")
        #expect(try first.command("LIST").hasPrefix("+OK"))
        let listed = try first.readMultiline()
        _ = try first.retrieve(1)
        _ = try first.retrieve(2)
        #expect(try first.quit().hasPrefix("+OK"))
        #expect(LiveTestSupport.files(in: maildir + "/cur").count == 2)
        let second = try POP3TestClient(connectingTo: office.pop3Address)
        try second.login(Self.user, password: "pw")
        #expect(try second.command("LIST").hasPrefix("+OK"))
        #expect(try second.readMultiline() == listed)
        // 5,000 bytes in 78 lines of 64 and a last one of 8 without its LF: a CR per LF, and CRLF to end it.
        #expect(listed.last == "2 5080")
        #expect(try second.quit().hasPrefix("+OK"))
    }
}
