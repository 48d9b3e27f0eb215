// POP3EndToEndTests: a message's whole path with clients others wrote — Python smtplib in, then Python
// poplib, mpop or fetchmail out — compared byte for byte (after line-ending normalisation) with what was sent,
// for small, medium and 5 MB messages with dot lines; plus UIDL stability and what "keep" leaves behind.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.serialized) struct POP3EndToEndTests {
    enum Client: String, CaseIterable, Sendable {
        case poplib, mpop, fetchmail
        var tool: String { self == .poplib ? "python3" : rawValue }
        /// The client and python3 (smtplib sends every message in).
        var isInstalled: Bool { ExternalTool.path(tool) != nil && ExternalTool.path("python3") != nil }
    }

    static let user = "alice@example.test"
    static let password = "s3cret pw"

    /// Fetches every message of `user` with `client`; returns the messages as the client stored them.
    static func fetch(with client: Client, from office: TestPostOffice, keep: Bool) throws -> [String] {
        let work = try LiveTestSupport.temporaryDirectory("fetch")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let host = office.pop3Address.host
        let port = String(office.pop3Address.port)
        switch client {
        case .poplib:
            let script = """
                import poplib, sys, os
                p = poplib.POP3(sys.argv[1], int(sys.argv[2]))
                p.user(sys.argv[3]); p.pass_(sys.argv[4])
                count, _ = p.stat()
                for n in range(1, count + 1):
                    _, lines, _ = p.retr(n)
                    with open(os.path.join(sys.argv[5], '%06d.eml' % n), 'wb') as f:
                        f.write(b'\\n'.join(lines) + b'\\n')
                    if sys.argv[6] == 'delete':
                        p.dele(n)
                p.quit()
                """
            let result = try ExternalTool.python(script, [host, port, user, password, work, keep ? "keep" : "delete"])
            try #require(result.status == 0, "poplib: \(result.errorOutput)")
            return try read(work)
        case .mpop:
            for sub in ["new", "cur", "tmp"] {
                try FileManager.default.createDirectory(atPath: work + "/md/" + sub, withIntermediateDirectories: true)
            }
            let result = try ExternalTool.run("mpop", [
                "-C", "/dev/null", "--host=\(host)", "--port=\(port)", "--tls=off", "--auth=user", "--user=\(user)",
                "--passwordeval=echo '\(password)'", "--delivery=maildir,\(work)/md", "--keep=\(keep ? "on" : "off")",
                "--uidls-file=\(work)/uidls", "--quiet",
            ], timeoutSeconds: 120)
            try #require(result.status == 0, "mpop: \(result.output)\(result.errorOutput)")
            return try read(work + "/md/new") + read(work + "/md/cur")
        case .fetchmail:
            try FileManager.default.createDirectory(atPath: work + "/out", withIntermediateDirectories: true)
            let rc = """
                set no syslog
                poll \(host) service \(port) protocol pop3 auth password
                  user "\(user)" password "\(password)"
                  sslproto '' \(keep ? "keep" : "nokeep") fetchall
                  mda "cat > \(work)/out/msg-$$.eml"

                """
            try rc.write(toFile: work + "/fetchmailrc", atomically: true, encoding: .utf8)
            chmod(work + "/fetchmailrc", 0o600)
            let result = try ExternalTool.run(
                "fetchmail", ["-f", work + "/fetchmailrc", "--nodetach", "--nosyslog", "-i", work + "/fetchids"],
                environment: ["FETCHMAILHOME": work, "HOME": work], timeoutSeconds: 120)
            try #require(result.status == 0, "fetchmail: \(result.output)\(result.errorOutput)")
            return try read(work + "/out")
        }
    }

    static func read(_ directory: String) throws -> [String] {
        try LiveTestSupport.files(in: directory).map { try String(contentsOfFile: directory + "/" + $0, encoding: .utf8) }
    }

    static let sizes = [1024, 100 * 1024, 5 * 1024 * 1024]

    // One test per client, so that a missing client is a skipped test (its trait), not a silent pass.
    @Test(.enabled(if: Client.poplib.isInstalled, "python3 is not installed"), arguments: sizes)
    func poplibMessageComesBackByteEqual(size: Int) throws { try messageComesBackByteEqual(client: .poplib, size: size) }

    @Test(.enabled(if: Client.mpop.isInstalled, "mpop or python3 is not installed"), arguments: sizes)
    func mpopMessageComesBackByteEqual(size: Int) throws { try messageComesBackByteEqual(client: .mpop, size: size) }

    @Test(.enabled(if: Client.fetchmail.isInstalled, "fetchmail or python3 is not installed"), arguments: sizes)
    func fetchmailMessageComesBackByteEqual(size: Int) throws { try messageComesBackByteEqual(client: .fetchmail, size: size) }

    func messageComesBackByteEqual(client: Client, size: Int) throws {
        let office = try TestPostOffice(users: [Self.user: Self.password])
        defer { office.stop() }
        let message = LiveTestSupport.message(size: size, subject: "\(client.rawValue) \(size)", to: Self.user)
        let sent = try LiveTestSupport.sendWithSmtplib(office, from: "sender@example.net", to: [Self.user], message: message)
        try #require(sent.status == 0, "smtplib: \(sent.errorOutput)")
        try office.waitForMessage(for: Self.user)

        let fetched = try Self.fetch(with: client, from: office, keep: false)
        try #require(fetched.count == 1)
        let body = LiveTestSupport.withoutTrace(fetched[0])
        #expect(body.utf8.count == message.utf8.count)
        #expect(body == message, "first difference at byte \(zip(body.utf8, message.utf8).prefix { $0 == $1 }.count)")
        #expect(office.messages(for: Self.user).isEmpty, "fetched without keep: the maildrop must be empty")
    }

    @Test(.enabled(if: Client.poplib.isInstalled, "python3 is not installed"))
    func poplibKeepLeavesMessagesSeenInCur() throws { try keepLeavesMessagesSeenInCur(client: .poplib) }

    @Test(.enabled(if: Client.mpop.isInstalled, "mpop or python3 is not installed"))
    func mpopKeepLeavesMessagesSeenInCur() throws { try keepLeavesMessagesSeenInCur(client: .mpop) }

    @Test(.enabled(if: Client.fetchmail.isInstalled, "fetchmail or python3 is not installed"))
    func fetchmailKeepLeavesMessagesSeenInCur() throws { try keepLeavesMessagesSeenInCur(client: .fetchmail) }

    func keepLeavesMessagesSeenInCur(client: Client) throws {
        let office = try TestPostOffice(users: [Self.user: Self.password])
        defer { office.stop() }
        var sent: [String] = []
        for index in 1...3 {
            let message = LiveTestSupport.message(size: 600 * index, subject: "keep \(index)", to: Self.user)
            let result = try LiveTestSupport.sendWithSmtplib(office, from: "sender@example.net", to: [Self.user], message: message)
            try #require(result.status == 0, "smtplib: \(result.errorOutput)")
            sent.append(message)
        }
        try office.waitForMessage(for: Self.user, count: 3)
        let before = try Self.uniqueIDs(office)

        let fetched = try Self.fetch(with: client, from: office, keep: true)
        #expect(Set(fetched.map(LiveTestSupport.withoutTrace)) == Set(sent))

        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        #expect(LiveTestSupport.files(in: maildir + "/new").isEmpty)
        let current = LiveTestSupport.files(in: maildir + "/cur")
        #expect(current.count == 3)
        #expect(current.allSatisfy { $0.hasSuffix(":2,S") }, "\(current)")
        // The UIDLs stay what they were, and are the base names of the files.
        let after = try Self.uniqueIDs(office)
        #expect(after == before)
        #expect(Set(after.values) == Set(current.map { String($0.prefix { $0 != "," && $0 != ":" }) }))
    }

    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func uniqueIDsAreStableAcrossSessionsAndClients() throws {
        let office = try TestPostOffice(users: [Self.user: Self.password])
        defer { office.stop() }
        for index in 1...4 {
            let message = LiveTestSupport.message(size: 300, subject: "uidl \(index)", to: Self.user)
            let result = try LiveTestSupport.sendWithSmtplib(office, from: "s@example.net", to: [Self.user], message: message)
            try #require(result.status == 0)
        }
        try office.waitForMessage(for: Self.user, count: 4)
        let first = try Self.uniqueIDs(office)
        #expect(first.count == 4)
        #expect(Set(first.values).count == 4)
        // Python's view of the same listing.
        let script = """
            import poplib, sys
            p = poplib.POP3(sys.argv[1], int(sys.argv[2]))
            p.user(sys.argv[3]); p.pass_(sys.argv[4])
            for line in p.uidl()[1]:
                print(line.decode())
            p.quit()
            """
        let result = try ExternalTool.python(
            script, [office.pop3Address.host, String(office.pop3Address.port), Self.user, Self.password])
        try #require(result.status == 0, "\(result.errorOutput)")
        var python: [Int: String] = [:]
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let n = Int(parts[0]) { python[n] = String(parts[1]) }
        }
        #expect(python == first)
        // Deleting message 2 in a later session does not renumber the others' UIDLs.
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(Self.user, password: Self.password)
        #expect(try client.command("DELE 2").hasPrefix("+OK"))
        #expect(try client.quit().hasPrefix("+OK"))
        let after = try Self.uniqueIDs(office)
        #expect(Set(after.values) == Set(first.values).subtracting([first[2] ?? ""]))
        #expect(after.values.sorted() == [first[1], first[3], first[4]].compactMap { $0 }.sorted())
    }

    /// The UIDL listing of a fresh session.
    static func uniqueIDs(_ office: TestPostOffice) throws -> [Int: String] {
        let client = try POP3TestClient(connectingTo: office.pop3Address)
        try client.login(user, password: password)
        let listing = try client.uniqueIDs()
        try client.quit()
        return listing
    }
}
