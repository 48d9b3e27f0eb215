// LMTPTests: the LMTP listener (RFC 2033) on the wire — one reply per recipient after the message with one
// recipient's Maildir broken (whole and drip-fed), duplicates, the Unix socket's life (mode 0660, a stale
// file replaced, a live socket or a plain file never taken over, removed at shutdown), and a private Postfix
// instance delivering through `lmtp:` into our Maildirs with one recipient refused and bounced.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct LMTPTests {
    static let users = ["alice@example.org": "pw", "bob@example.org": "pw", "carol@example.org": "pw", "dave@example.org": "pw"]

    static func office(listening address: SocketAddress = SocketAddress(host: "127.0.0.1", port: 0)) throws -> TestPostOffice {
        try TestPostOffice(users: users) { $0.lmtpListeners = [address] }
    }

    /// Sends `text` in one write, or one byte per write (drip-fed).
    static func send(_ client: SMTPTestClient, _ text: String, drip: Bool) throws {
        if drip {
            for byte in text.utf8 { try client.connection.send([byte]) }
        } else {
            try client.connection.send(text)
        }
    }

    /// Breaks a Maildir even for root: its `tmp` is a plain file, so no delivery can open it (451 4.3.0).
    static func breakMaildir(_ office: TestPostOffice, _ address: String) throws {
        let parsed = try #require(MailAddress(address))
        let path = try #require(office.server.maildirPath(for: parsed))
        for folder in ["new", "cur"] {
            try FileManager.default.createDirectory(atPath: path + "/" + folder, withIntermediateDirectories: true)
        }
        #expect(FileManager.default.createFile(atPath: path + "/tmp", contents: Data("not a directory\n".utf8)))
    }

    @Test(arguments: [false, true])
    func oneReplyPerRecipientAndOneFailureLeavesTheOthersDelivered(drip: Bool) throws {
        let office = try Self.office()
        defer { office.stop() }
        try Self.breakMaildir(office, "bob@example.org")
        let client = try SMTPTestClient(connectingTo: try #require(office.lmtpAddress))
        let greeting = try client.readReply()
        #expect(greeting.code == 220 && greeting.lines[0].contains("LMTP"), "\(greeting)")
        try Self.send(client, "EHLO client.test\r\n", drip: drip)
        let ehlo = try client.readReply()
        #expect(ehlo.code == 500 && ehlo.enhancedCode == "5.5.1", "\(ehlo)")
        try Self.send(client, "LHLO client.test\r\n", drip: drip)
        let lhlo = try client.readReply()
        #expect(lhlo.code == 250 && lhlo.lines.contains("PIPELINING") && lhlo.lines.contains("ENHANCEDSTATUSCODES"))
        #expect(!lhlo.lines.contains { $0.hasPrefix("AUTH") || $0 == "STARTTLS" }, "\(lhlo)")
        try Self.send(client, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHB3\r\n", drip: drip)
        #expect(try client.readReply().code == 502)
        // Pipelined: a local user, another domain (never relayed), an unknown user, the broken one, another.
        try Self.send(
            client,
            "MAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<someone@elsewhere.example>\r\n"
                + "RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n",
            drip: drip)
        for (code, enhanced) in [(250, "2.1.0"), (250, "2.1.5"), (550, "5.1.1"), (550, "5.1.1"), (250, "2.1.5"), (250, "2.1.5")] {
            let reply = try client.readReply()
            #expect(reply.code == code && reply.enhancedCode == enhanced, "\(reply)")
        }
        #expect(try client.readReply().code == 354)
        try Self.send(client, "Subject: lmtp test\r\n\r\nHello over LMTP.\r\n..dot line\r\n.\r\n", drip: drip)
        // One reply per accepted RCPT, in RCPT order: alice, bob (broken), carol.
        let alice = try client.readReply()
        let bob = try client.readReply()
        let carol = try client.readReply()
        #expect(alice.code == 250 && alice.enhancedCode == "2.0.0", "\(alice)")
        #expect(bob.code == 451 && bob.enhancedCode?.hasPrefix("4.") == true, "\(bob)")
        #expect(carol.code == 250 && carol.enhancedCode == "2.0.0", "\(carol)")
        // The session goes on normally after a partial failure.
        #expect(try client.command("NOOP").code == 250)
        #expect(try client.command("QUIT").code == 221)
        for address in ["alice@example.org", "carol@example.org"] {
            let message = try office.waitForMessage(for: address)
            #expect(message.contains("Subject: lmtp test") && message.contains("\n.dot line\n"), "\(message)")
            #expect(message.contains(" with LMTP "), "\(message)")
        }
        #expect(office.messages(for: "bob@example.org").isEmpty)
    }

    /// RFC 2033 §4.2: even the same forward-path twice gets two replies; the mailbox gets one copy. BDAT too.
    @Test func duplicateRecipientsGetAReplyEachAndOneCopy() throws {
        let office = try Self.office()
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: try #require(office.lmtpAddress))
        _ = try client.readReply()
        #expect(try client.command("LHLO client.test").code == 250)
        try client.connection.send(
            "MAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<carol@example.org>\r\nRCPT TO:<alice@example.org>\r\n"
                + "BDAT 23 LAST\r\nSubject: chunked\r\n\r\nx\r\n")
        for _ in 0..<4 { #expect(try client.readReply().code == 250) }
        for _ in 0..<3 {
            let reply = try client.readReply()
            #expect(reply.code == 250 && reply.enhancedCode == "2.0.0", "\(reply)")
        }
        #expect(try client.command("QUIT").code == 221)
        #expect(try office.waitForMessage(for: "carol@example.org").contains("Subject: chunked"))
        #expect(try office.waitForMessage(for: "alice@example.org").contains("Subject: chunked"))
        #expect(office.messages(for: "alice@example.org").count == 1)
    }

    @Test func unixSocketListener() throws {
        let directory = try LiveTestSupport.temporaryDirectory("lmtp-socket")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/lmtp.sock"
        // What a crashed server leaves: a socket file nobody listens on.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(SocketAddress(unixPath: path).withSockAddr { bind(stale, $0, $1) } == 0)
        close(stale)
        #expect(FileManager.default.fileExists(atPath: path))

        let office = try Self.office(listening: SocketAddress(unixPath: path))
        var status = stat()
        #expect(lstat(path, &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFSOCK && status.st_mode & 0o777 == 0o660)
        #expect(office.lmtpAddress == SocketAddress(unixPath: path))
        // A second server may not take over a live socket.
        #expect(throws: (any Error).self) { _ = try Self.office(listening: SocketAddress(unixPath: path)) }
        #expect(FileManager.default.fileExists(atPath: path))

        let client = try SMTPTestClient(connectingTo: SocketAddress(unixPath: path))
        #expect(try client.readReply().code == 220)
        #expect(try client.command("LHLO client.test").code == 250)
        let reply = try client.sendMail(from: "sender@example.net", to: ["alice@example.org"], body: "Subject: via socket\n\nhi\n")
        #expect(reply.code == 250, "\(reply)")
        #expect(try client.command("QUIT").code == 221)
        let message = try office.waitForMessage(for: "alice@example.org")
        #expect(message.contains("Subject: via socket"))
        office.stop()
        #expect(!FileManager.default.fileExists(atPath: path), "the socket is removed at shutdown")
    }

    @Test func aPlainFileIsNeverReplacedByTheSocket() throws {
        let directory = try LiveTestSupport.temporaryDirectory("lmtp-file")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/lmtp.sock"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("keep me\n".utf8)))
        #expect(throws: (any Error).self) { _ = try Self.office(listening: SocketAddress(unixPath: path)) }
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "keep me\n")
    }

    @Test func configurationKeyTakesAddressesAndSocketPaths() throws {
        let base = PostOfficeConfiguration(hostname: "mx.test", dataDirectory: "/tmp/unused")
        let configuration = try ConfigurationFile.parse(
            "lmtp_listen = 127.0.0.1:24, /run/postoffice/lmtp.sock\n", fileName: "f", base: base)
        #expect(configuration.lmtpListeners == [
            SocketAddress(host: "127.0.0.1", port: 24), SocketAddress(unixPath: "/run/postoffice/lmtp.sock"),
        ])
        #expect(configuration.listenerSpecs.filter { $0.service == .lmtp }.count == 2)
        #expect(throws: ConfigurationError.self) {
            _ = try ConfigurationFile.parse("lmtp_listen = relative/lmtp.sock\n", fileName: "f", base: base)
        }
        // Other listeners keep host:port only.
        #expect(throws: ConfigurationError.self) {
            _ = try ConfigurationFile.parse("smtp_listen = /run/smtp.sock\n", fileName: "f", base: base)
        }
    }

    // MARK: - Postfix delivering through lmtp:

    /// Postfix (a private instance: its own config, queue and data folders, its own port) relays example.org
    /// to our LMTP listener. Two recipients arrive in our Maildirs; the third, refused at RCPT, is bounced by
    /// Postfix to the sender, whose bounce comes back over LMTP too; the fourth, whose Maildir is broken, gets
    /// its own 451 after DATA and Postfix defers that recipient alone.
    /// Over TCP (`lmtp:inet:`) and over our Unix socket (`lmtp:unix:`, its group given to Postfix's user as an
    /// administrator would, since the socket is mode 0660).
    @Test(.enabled(if: PrivatePostfix.isUsable, "needs root, /usr/sbin/postfix and its postfix user (apt package postfix)"),
          arguments: ["inet", "unix"])
    func postfixDeliversThroughLMTP(transport: String) throws {
        let socketDirectory = try LiveTestSupport.temporaryDirectory("lmtp-postfix-socket")
        defer { try? FileManager.default.removeItem(atPath: socketDirectory) }
        chmod(socketDirectory, 0o755)
        let socketPath = socketDirectory + "/lmtp.sock"
        let office = try Self.office(
            listening: transport == "unix" ? SocketAddress(unixPath: socketPath) : SocketAddress(host: "127.0.0.1", port: 0))
        defer { office.stop() }
        try Self.breakMaildir(office, "dave@example.org")
        let lmtp = try #require(office.lmtpAddress)
        let destination: String
        if transport == "unix" {
            let group = try #require(getpwnam("postfix")).pointee.pw_gid
            #expect(chown(socketPath, uid_t.max, group) == 0)
            destination = "unix:\(socketPath)"
        } else {
            destination = "inet:[127.0.0.1]:\(lmtp.port)"
        }
        let postfix = try PrivatePostfix(.init(
            label: "postfix-lmtp", relay: (domains: "example.org", transport: "lmtp:" + destination)))
        defer { postfix.stop() }
        let client = try SMTPTestClient(connectingTo: postfix.smtpAddress, timeoutSeconds: 30)
        #expect(try client.readReply().code == 220)
        #expect(try client.command("EHLO client.test").code == 250)
        let reply = try client.sendMail(
            from: "alice@example.org", to: ["bob@example.org", "nobody@example.org", "carol@example.org", "dave@example.org"],
            body: "Subject: through postfix\nMessage-ID: <lmtp-1@example.org>\n\nHanded over by Postfix's lmtp client.\n")
        #expect(reply.code == 250, "\(reply)")
        _ = try? client.command("QUIT")
        for address in ["bob@example.org", "carol@example.org"] {
            let message = try office.waitForMessage(for: address, timeoutSeconds: 60)
            #expect(message.contains("Subject: through postfix") && message.contains(" with LMTP "), "\(message)")
        }
        // The refused recipient: Postfix bounced it (its log says so) and the bounce came to the sender.
        let bounce = try office.waitForMessage(for: "alice@example.org", timeoutSeconds: 60)
        #expect(bounce.contains("nobody@example.org") && bounce.contains("550 5.1.1"), "\(bounce)")
        let log = postfix.waitForLog(containing: "status=bounced")
        #expect(log.contains("to=<nobody@example.org>") && log.contains("status=bounced"), "\(log)")
        #expect(log.contains("to=<bob@example.org>") && log.contains("status=sent"), "\(log)")
        let deferred = postfix.waitForLog(containing: "status=deferred")
        let daveLines = deferred.split(separator: "\n").filter { $0.contains("to=<dave@example.org>") }
        #expect(daveLines.contains { $0.contains("status=deferred") && $0.contains("451 4.3.0") }, "\(deferred)")
        #expect(!deferred.split(separator: "\n").contains { $0.contains("to=<carol@example.org>") && !$0.contains("status=sent") })
        #expect(office.messages(for: "dave@example.org").isEmpty)
        #expect(office.messages(for: "bob@example.org").count == 1 && office.messages(for: "carol@example.org").count == 1)
    }
}
