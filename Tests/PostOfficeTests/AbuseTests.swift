// AbuseTests: a hostile client against a live server — header injection through envelope commands, path
// traversal through local parts, memory exhaustion (pipelined RCPTs, huge lines, huge headers, oversize
// DATA), open-relay probes, error limits and POP3 login answers. Each attack must get the right reply code,
// write nothing outside its Maildir and leave the server's memory nearly flat.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.serialized) struct AbuseTests {
    // MARK: - Helpers

    /// Reads a reply, or nil when the server closed the connection or went silent.
    static func reply(_ client: SMTPTestClient) -> SMTPTestReply? { try? client.readReply() }

    /// Sends raw bytes and returns the reply, or nil when the connection ended.
    static func raw(_ client: SMTPTestClient, _ bytes: [UInt8]) -> SMTPTestReply? {
        do { try client.connection.send(bytes) } catch { return nil }
        return reply(client)
    }

    /// Every stored file of every Maildir below the mail root (new/ and cur/, folders included).
    static func storedFiles(under root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            let components = relative.split(separator: "/")
            guard components.count >= 2, ["new", "cur"].contains(components[components.count - 2]) else { continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(root + "/" + relative)
            }
        }
        return files
    }

    /// Every regular file below `directory`, relative to it.
    static func allFiles(under directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            if let type = walker.fileAttributes?[.type] as? FileAttributeType, type == .typeRegular {
                files.append(relative)
            }
        }
        return files
    }

    // MARK: - Header injection through envelope commands

    /// Bytes that must never start a header line of their own when they arrive inside HELO, MAIL or RCPT.
    static let injections: [(String, [UInt8])] = [
        ("bare CR", [13]), ("bare LF", [10]), ("CRLF", [13, 10]), ("NUL", [0]), ("NUL CR", [0, 13]),
        ("VT", [11]), ("FF", [12]), ("ESC", [27]), ("DEL", [127]), ("NEL", [0xC2, 0x85]),
        ("LINE SEPARATOR", [0xE2, 0x80, 0xA8]), ("CR CR LF", [13, 13, 10]), ("tab", [9]),
    ]

    enum Position: String, CaseIterable { case helo, mailLocalPart, mailParameter, recipientLocalPart, quotedSender }

    @Test(arguments: Position.allCases)
    func controlCharactersInEnvelopeNeverBecomeHeaderLines(position: Position) throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        for (name, bytes) in Self.injections {
            let payload = bytes + Array("X-Injected: \(name)".utf8)
            var helo = Array("EHLO client.test".utf8)
            var mail = Array("MAIL FROM:<sender@example.net>".utf8)
            var recipient = Array("RCPT TO:<alice@example.test>".utf8)
            switch position {
            case .helo: helo += payload
            case .mailLocalPart: mail = Array("MAIL FROM:<sender".utf8) + payload + Array("@example.net>".utf8)
            case .mailParameter: mail += Array(" ENVID=".utf8) + payload
            case .recipientLocalPart: recipient = Array("RCPT TO:<alice".utf8) + payload + Array("@example.test>".utf8)
            case .quotedSender: mail = Array("MAIL FROM:<\"s".utf8) + payload + Array("\"@example.net>".utf8)
            }
            let client = try SMTPTestClient(connectingTo: office.smtpAddress, timeoutSeconds: 5)
            _ = Self.reply(client)
            // Everything is sent in one go, so a server that splits a line in two answers twice; the
            // replies are not what is checked here, the stored mail is.
            var script: [UInt8] = []
            for line in [helo, mail, recipient, Array("RCPT TO:<alice@example.test>".utf8), Array("DATA".utf8)] {
                script += line + [13, 10]
            }
            script += Array("Subject: injection \(name)\r\n\r\nbody\r\n.\r\nQUIT\r\n".utf8)
            try? client.connection.send(script)
            _ = client.connection.readToEnd()
        }
        let stored = Self.storedFiles(under: office.dataDirectory + "/mail")
        // The sessions with a bad HELO or a bad extra RCPT still deliver (so the check below has files to
        // read); a bad reverse-path is refused outright and nothing is stored.
        if position == .helo || position == .recipientLocalPart {
            #expect(!stored.isEmpty, "\(position): nothing was delivered, so nothing was checked")
        } else {
            #expect(stored.isEmpty, "\(position): a reverse-path with control characters was accepted")
        }
        for file in stored {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            let text = String(decoding: bytes, as: UTF8.self)
            let header = text.components(separatedBy: "\n\n").first ?? text
            for line in header.split(separator: "\n", omittingEmptySubsequences: false) {
                #expect(!line.lowercased().hasPrefix("x-injected"), "\(position): injected header line in \(file): \(line)")
            }
            let headerBytes = Array(header.utf8)
            #expect(!headerBytes.contains(0), "\(position): NUL in the stored header of \(file)")
            #expect(!headerBytes.contains(13), "\(position): bare CR in the stored header of \(file)")
        }
    }

    // MARK: - Path traversal through local parts

    /// About 200 hostile local parts: traversal, encoded traversal, look-alikes, normalisation forms.
    static func hostileLocalParts(token: String) -> [String] {
        let fragments = [
            "..", ".", "...", "../\(token)", "../../\(token)", "../../../../../../../tmp/\(token)", "a/b", "/etc/\(token)",
            "a/../../\(token)", "..\\..\\\(token)", "%2e%2e", "%2e%2e%2f\(token)", "%2E%2E%2F%2E%2E%2F\(token)",
            "..%2f..%2f\(token)", "%c0%ae%c0%ae%c0%af\(token)", "\u{FF0E}\u{FF0E}", "\u{FF0E}\u{FF0E}\u{FF0F}\(token)",
            "\u{FF0F}etc", "a\u{FF0F}b", "\u{2024}\u{2024}/\(token)", "\u{FE52}\u{FE52}", "e\u{301}", "\u{E9}",
            "A\u{30A}", "\u{212B}", "\u{FB01}", "x\u{200B}y", "\u{202E}gpj.exe", ".hidden", ".Trash", "tmp", "new", "cur",
            "./../\(token)", "./../../\(token)", "~root", "-rf", "*", "?", "a:b", "a,b", "a;b", "nul", "a b",
            String(repeating: "a", count: 64), String(repeating: "a", count: 300), "a\u{7F}", "a\tb", "\u{1F600}",
            "\u{43A}\u{443}\u{440}\u{44C}\u{435}\u{440}",
        ]
        var parts: [String] = []
        for fragment in fragments {
            parts.append(fragment)
            parts.append("\"\(fragment)\"")
            parts.append("alice+\(fragment)")
            parts.append(fragment + token)
        }
        return parts
    }

    @Test func hostileLocalPartsNeverReachAFileOutsideTheirMaildir() throws {
        let token = "pwn" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"]) { configuration in
            // The mail root sits deep inside the data folder, so a climb of a few levels stays where we look.
            configuration.mailRoot = configuration.dataDirectory + "/a/b/c/mail"
            configuration.deliversSubaddressToFolders = true
            // Hundreds of refused recipients on one session: keep the error limits out of the way.
            configuration.limits.softErrorLimit = 100_000
            configuration.limits.hardErrorLimit = 100_000
        }
        defer { office.stop() }
        let root = office.dataDirectory + "/a/b/c/mail"
        // Decoy Maildirs at the places a traversal would land, so "the folder exists" checks pass for them.
        let fm = FileManager.default
        for decoy in [root + "/example.test/alice/../../\(token)", root + "/../\(token)", root + "/../../\(token)",
                      root + "/example.test/\(token)", office.dataDirectory + "/a/\(token)"]
        {
            for sub in ["new", "cur", "tmp"] { try fm.createDirectory(atPath: decoy + "/" + sub, withIntermediateDirectories: true) }
        }
        let parts = Self.hostileLocalParts(token: token)
        #expect(parts.count >= 200)
        var accepted = 0
        let client = try SMTPTestClient(connectingTo: office.smtpAddress, timeoutSeconds: 10)
        _ = Self.reply(client)
        try client.command("EHLO client.test")
        for part in parts {
            let mail = try client.command("MAIL FROM:<sender@example.net>")
            #expect(mail.code == 250)
            let reply = try client.command("RCPT TO:<\(part)@example.test>")
            #expect([250, 500, 501, 550, 553].contains(reply.code), "RCPT \(part): \(reply)")
            if reply.code == 250 {
                accepted += 1
                #expect(try client.command("DATA").code == 354)
                try client.connection.send(SMTPTestClient.stuffed("Subject: \(part)\n\nhello\n"))
                let final = try client.readReply()
                #expect(final.code == 250 || final.code / 100 == 4, "DATA for \(part): \(final)")
            } else {
                try client.command("RSET")
            }
        }
        try client.command("QUIT")
        // Every stored file is inside alice's or bob's Maildir (folders included) and nothing else was written.
        for file in Self.allFiles(under: office.dataDirectory) {
            let inMaildir = file.hasPrefix("a/b/c/mail/example.test/alice/") || file.hasPrefix("a/b/c/mail/example.test/bob/")
            let known = ["users", "aliases", "postoffice.conf"].contains(file)
            #expect(inMaildir || known, "a delivery wrote \(file)")
            #expect(!file.contains(token), "a traversal reached \(file)")
        }
        for place in [NSTemporaryDirectory(), "/tmp", office.dataDirectory + "/.."] {
            let names = (try? fm.contentsOfDirectory(atPath: place)) ?? []
            #expect(!names.contains { $0.contains(token) }, "a traversal wrote into \(place)")
        }
        #expect(accepted > 0, "at least the plain alice+tag forms should be delivered")
    }

    @Test func symlinkPlantedInTheMailRootIsNotFollowedOutside() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "victim@example.test": "pw"])
        defer { office.stop() }
        let fm = FileManager.default
        let outside = office.dataDirectory + "/outside"
        for sub in ["new", "cur", "tmp"] { try fm.createDirectory(atPath: outside + "/" + sub, withIntermediateDirectories: true) }
        try fm.createDirectory(atPath: office.dataDirectory + "/mail/example.test", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: office.dataDirectory + "/mail/example.test/victim", withDestinationPath: outside)
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = Self.reply(client)
        try client.command("EHLO client.test")
        let reply = try client.sendMail(from: "sender@example.net", to: ["victim@example.test"], body: "Subject: symlink\n\nhi\n")
        try client.command("QUIT")
        let escaped = Self.allFiles(under: outside)
        // The Maildir's real path is checked against the mail root's before anything is written there.
        #expect(escaped.isEmpty, "delivery through a symlink wrote \(escaped) outside the mail root (reply \(reply))")
        #expect(reply.code == 451)
    }

    // MARK: - Memory exhaustion

    /// The resident set size of this process, in bytes (Linux; nil elsewhere).
    static func residentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return digits.map { $0 * 1024 }
        }
        return nil
    }

    /// Samples the RSS on a background thread while an attack runs; reports the peak growth.
    final class RSSSampler: @unchecked Sendable {
        private let lock = NSLock()
        private var peak = 0
        private var running = true
        let baseline: Int

        init() {
            baseline = AbuseTests.residentBytes() ?? 0
            peak = baseline
            let thread = Thread { [self] in
                while lock.withLock({ running }) {
                    let now = AbuseTests.residentBytes() ?? 0
                    lock.withLock { peak = max(peak, now) }
                    usleep(2_000)
                }
            }
            thread.start()
        }

        /// Stops sampling; returns the peak growth over the baseline in MiB.
        func stop() -> Double {
            let now = AbuseTests.residentBytes() ?? 0
            return lock.withLock {
                running = false
                peak = max(peak, now)
                return Double(peak - baseline) / 1_048_576
            }
        }
    }

    /// The allowed RSS growth per attacking session. POSTOFFICE_MEMORY_BOUND_MIB overrides it: the sanitizer
    /// runs raise it (ASan's quarantine and shadow memory inflate RSS), and 0 makes every test print its growth.
    static let memoryBoundMiB = ProcessInfo.processInfo.environment["POSTOFFICE_MEMORY_BOUND_MIB"].flatMap(Double.init) ?? 32

    /// Streams `total` bytes made of `chunk` repeated; stops quietly when the server hangs up.
    static func stream(_ client: SMTPTestClient, chunk: [UInt8], total: Int) -> Int {
        var sent = 0
        while sent < total {
            let piece = sent + chunk.count <= total ? chunk : Array(chunk[0..<(total - sent)])
            do { try client.connection.send(piece) } catch { return sent }
            sent += piece.count
        }
        return sent
    }

    /// Collects replies on another thread, so a pipelining attacker never deadlocks on a full socket.
    final class ReplyCollector: @unchecked Sendable {
        private let lock = NSLock()
        private var codes: [Int: Int] = [:]
        private var last: SMTPTestReply?
        private let done = DispatchSemaphore(value: 0)

        /// Hands the (non-Sendable) client to the reader thread; the test thread only writes to it meanwhile.
        private struct Handle: @unchecked Sendable { let client: SMTPTestClient }

        init(_ client: SMTPTestClient) {
            let handle = Handle(client: client)
            let thread = Thread { [self] in
                while let reply = try? handle.client.readReply() {
                    lock.withLock {
                        codes[reply.code, default: 0] += 1
                        last = reply
                    }
                }
                done.signal()
            }
            thread.start()
        }

        func finish() -> (codes: [Int: Int], last: SMTPTestReply?) {
            _ = done.wait(timeout: .now() + 60)
            return lock.withLock { (codes, last) }
        }
    }

    @Test func oneMillionPipelinedRecipientsAreCutOffWithBoundedMemory() throws {
        // 452s count as errors; a short tarpit keeps the run fast without changing what is measured.
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.limits.errorDelayMilliseconds = 10 }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress, timeoutSeconds: 20)
        _ = Self.reply(client)
        try client.command("EHLO client.test")
        #expect(try client.command("MAIL FROM:<sender@example.net>").code == 250)
        let sampler = RSSSampler()
        let collector = ReplyCollector(client)
        let line = Array("RCPT TO:<alice@example.test>\r\n".utf8)
        let batch = Array([[UInt8]](repeating: line, count: 2048).joined())
        _ = Self.stream(client, chunk: batch, total: line.count * 1_000_000)
        client.connection.abort()
        let (codes, last) = collector.finish()
        let growth = sampler.stop()
        #expect(Set(codes.keys).isSubset(of: [250, 452, 421]), "unexpected replies \(codes)")
        #expect((codes[250] ?? 0) <= 1000, "more recipients accepted than the limit: \(codes)")
        #expect(codes[452] != nil || last?.code == 421, "no refusal for 1,000,000 recipients: \(codes)")
        #expect(growth < Self.memoryBoundMiB, "RSS grew \(growth) MiB")
    }

    @Test func tenMebibyteCommandLineIsRefusedWithBoundedMemory() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress, timeoutSeconds: 20)
        _ = Self.reply(client)
        try client.command("EHLO client.test")
        let sampler = RSSSampler()
        let collector = ReplyCollector(client)
        try client.connection.send("MAIL FROM:<")
        _ = Self.stream(client, chunk: [UInt8](repeating: UInt8(ascii: "a"), count: 65536), total: 10 * 1_048_576)
        try? client.connection.send("@example.net>\r\nQUIT\r\n")
        let (codes, _) = collector.finish()
        let growth = sampler.stop()
        #expect(codes[250] == nil, "a 10 MiB MAIL line was accepted: \(codes)")
        #expect(codes[500] != nil || codes[421] != nil, "no 500 (line too long) or 421: \(codes)")
        #expect(growth < Self.memoryBoundMiB, "RSS grew \(growth) MiB")
    }

    @Test func hundredMebibyteHeaderIsRefusedWithBoundedMemory() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress, timeoutSeconds: 60)
        _ = Self.reply(client)
        try client.command("EHLO client.test")
        #expect(try client.command("MAIL FROM:<sender@example.net>").code == 250)
        #expect(try client.command("RCPT TO:<alice@example.test>").code == 250)
        #expect(try client.command("DATA").code == 354)
        let sampler = RSSSampler()
        try client.connection.send("Subject: big\r\nX-Huge: ")
        let sent = Self.stream(client, chunk: [UInt8](repeating: UInt8(ascii: "h"), count: 65536), total: 100 * 1_048_576)
        try? client.connection.send("\r\n\r\nbody\r\n.\r\n")
        let reply = Self.reply(client)
        let growth = sampler.stop()
        #expect(sent > 0)
        #expect(reply?.code == 552 || reply?.code == 554 || reply?.code == 421 || reply == nil,
                "100 MiB header answered \(String(describing: reply))")
        #expect(reply?.code != 250)
        #expect(office.messages(for: "alice@example.test").isEmpty)
        #expect(growth < Self.memoryBoundMiB, "RSS grew \(growth) MiB")
    }

    @Test func oversizeDataIsRefusedAfterTheDotAndNothingIsStored() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.limits.maximumMessageSize = 1_048_576 }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress, timeoutSeconds: 30)
        _ = Self.reply(client)
        try client.command("EHLO client.test")
        // Declared too big: refused at MAIL (RFC 1870 §6.1).
        let declared = try client.command("MAIL FROM:<sender@example.net> SIZE=\(4 * 1_048_576)")
        #expect(declared.code == 552)
        #expect(try client.command("MAIL FROM:<sender@example.net>").code == 250)
        #expect(try client.command("RCPT TO:<alice@example.test>").code == 250)
        #expect(try client.command("DATA").code == 354)
        let sampler = RSSSampler()
        let line = Array((String(repeating: "0123456789", count: 7) + "\r\n").utf8)
        let chunk = Array([[UInt8]](repeating: line, count: 1000).joined())
        _ = Self.stream(client, chunk: chunk, total: 8 * 1_048_576 - 8 * 1_048_576 % line.count)
        try client.connection.send(".\r\n")
        let reply = try client.readReply()
        let growth = sampler.stop()
        #expect(reply.code == 552, "oversize DATA answered \(reply)")
        #expect(reply.enhancedCode == "5.3.4")
        #expect(office.messages(for: "alice@example.test").isEmpty)
        // The session goes on: a normal message still gets through.
        let normal = try client.sendMail(from: "sender@example.net", to: ["alice@example.test"], body: "Subject: ok\n\nfine\n")
        #expect(normal.code == 250)
        #expect(growth < Self.memoryBoundMiB, "RSS grew \(growth) MiB")
    }

    // MARK: - Open relay

    static let relayProbes = [
        "user@other.example", "alice@other.example", "user%other.example@example.test", "alice%other.example@example.test",
        "@example.test:user@other.example", "@example.test,@mx.test:user@other.example", "\"user@other.example\"@example.test",
        "\"user%other.example\"@example.test", "user@other.example@example.test", "other.example!user@example.test",
        "other.example!user", "user@other.example.", "user@example.test.other.example", "user@[192.0.2.1]",
        "user%other.example@[127.0.0.1]", "user@other.example:25", "\"alice@other.example\"", "user@[IPv6:2001:db8::1]",
        "user@OTHER.EXAMPLE", "user%other.example%example.test@example.test", "<user@other.example>",
        "user@other.example>", "user@xn--other-example", "alice@example.test@other.example", "user@localhost.other.example",
        "user@example.testother", "user@.example.test", "user@example..test", "user@127.0.0.1", "\"@\"@other.example",
    ]

    @Test func openRelayProbesAreNeverAcceptedForDeliveryElsewhere() throws {
        #expect(Self.relayProbes.count == 30)
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        var acceptedElsewhere: [String] = []
        for probe in Self.relayProbes {
            let client = try SMTPTestClient(connectingTo: office.smtpAddress)
            _ = Self.reply(client)
            try client.command("EHLO client.test")
            let before = Self.storedFiles(under: office.dataDirectory + "/mail").count
            #expect(try client.command("MAIL FROM:<sender@example.net>").code == 250)
            let reply = try client.command("RCPT TO:<\(probe)>")
            if reply.code == 250 {
                // Accepted: it must then be stored here, in a local Maildir, not queued for elsewhere.
                #expect(try client.command("DATA").code == 354)
                try client.connection.send(SMTPTestClient.stuffed("Subject: relay \(probe)\n\nprobe\n"))
                let final = try client.readReply()
                let after = Self.storedFiles(under: office.dataDirectory + "/mail").count
                if final.code != 250 || after != before + 1 { acceptedElsewhere.append("\(probe): \(final)") }
            }
            _ = try? client.command("QUIT")
        }
        #expect(acceptedElsewhere.isEmpty, "accepted but not delivered locally: \(acceptedElsewhere)")
        let domains = (try? FileManager.default.contentsOfDirectory(atPath: office.dataDirectory + "/mail")) ?? []
        #expect(domains.allSatisfy { $0 == "example.test" }, "mail stored for other domains: \(domains)")
    }

    // MARK: - Error limits

    @Test func errorsAreDelayedFromTheSoftLimitAndTheSessionEndsAtTheHardLimit() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { $0.limits.errorDelayMilliseconds = 200 }
        defer { office.stop() }
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = Self.reply(client)
        var codes: [Int] = []
        var slowest = 0.0
        for index in 1...25 {
            let began = Date()
            guard let reply = Self.raw(client, Array("NONSENSE \(index)\r\n".utf8)) else { break }
            let elapsed = Date().timeIntervalSince(began)
            codes.append(reply.code)
            if index > 10 { slowest = max(slowest, elapsed) }
            if reply.code == 421 { break }
        }
        // Twenty errors answered, then 421 4.7.0 and the end of the session.
        #expect(codes.count == 21, "replies: \(codes)")
        #expect(codes.dropLast().allSatisfy { $0 == 500 || $0 == 502 }, "replies: \(codes)")
        #expect(codes.last == 421)
        #expect(client.connection.isClosedByPeer())
        // A lower bound only: the delay after the soft limit cannot be shorter than configured.
        #expect(slowest >= 0.19, "no delay after 10 errors (slowest reply \(slowest) s)")
    }

    // MARK: - Many clients at once

    /// A TCP connection from a chosen loopback source address (127.0.0.N), reading the first reply line.
    final class SourceBoundConnection {
        let fd: Int32

        init?(source: String, port: Int) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return nil }
            self.fd = fd
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
            let size = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
            let connected = withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) }
            }
            guard bound == 0, connected == 0 else {
                Glibc.close(fd)
                return nil
            }
        }

        deinit { Glibc.close(fd) }

        /// The first line the server sends (its greeting or refusal), or "" on timeout or close.
        func firstLine() -> String {
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            while recv(fd, &byte, 1, 0) == 1 {
                if byte == 10 { break }
                bytes.append(byte)
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    @Test func perClientCapRefusesExtraConnectionsWhileOthersAreServed() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"]) { configuration in
            configuration.limits.limitsLoopbackConnections = true
            configuration.limits.connectionsPerAddress = 3
        }
        defer { office.stop() }
        var held: [SourceBoundConnection] = []
        var greeted = 0
        var refused: [String] = []
        // 249 sources hold one silent connection each; five of them try four connections (cap 3).
        for host in 2...250 {
            let attempts = host % 50 == 0 ? 4 : 1
            for _ in 0..<attempts {
                guard let connection = SourceBoundConnection(source: "127.0.0.\(host)", port: office.smtpAddress.port) else {
                    Issue.record("cannot connect from 127.0.0.\(host)")
                    continue
                }
                let line = connection.firstLine()
                if line.hasPrefix("220") { greeted += 1 } else { refused.append(line) }
                held.append(connection)
            }
        }
        #expect(greeted == 249 + 5 * 2, "greeted \(greeted)")
        #expect(refused.count == 5 && refused.allSatisfy { $0.hasPrefix("421") }, "refusals: \(refused)")
        // A real client is still served while the others hang on.
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = Self.reply(client)
        try client.command("EHLO client.test")
        let reply = try client.sendMail(from: "sender@example.net", to: ["alice@example.test"], body: "Subject: still served\n\nhi\n")
        #expect(reply.code == 250)
        withExtendedLifetime(held) {}
    }

    // MARK: - POP3 authentication

    @Test func pop3LoginFailuresAreDelayedAndLookTheSameForUnknownUsers() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "secret"]) { $0.limits.failedLoginDelayMilliseconds = 300 }
        defer { office.stop() }
        var answers: [[String]] = []
        for (user, password) in [("alice@example.test", "wrong"), ("nobody@example.test", "wrong"), ("nobody", "x")] {
            let client = try POP3TestClient(connectingTo: office.pop3Address)
            let userReply = try client.command("USER \(user)")
            let began = Date()
            let passReply = try client.command("PASS \(password)")
            let elapsed = Date().timeIntervalSince(began)
            #expect(passReply.hasPrefix("-ERR"))
            #expect(elapsed >= 0.29, "failed PASS for \(user) answered after \(elapsed) s, before the 300 ms delay")
            answers.append([userReply, passReply])
            _ = try? client.quit()
        }
        #expect(Set(answers.map { $0[0] }).count == 1, "USER answers differ: \(answers)")
        #expect(Set(answers.map { $0[1] }).count == 1, "PASS answers differ: \(answers)")
        let good = try POP3TestClient(connectingTo: office.pop3Address)
        try good.login("alice@example.test", password: "secret")
        try good.quit()
    }
}
