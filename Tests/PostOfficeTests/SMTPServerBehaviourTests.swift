// SMTPServerBehaviourTests: what the server runtime adds around the SMTP engine, on real sockets — graceful
// shutdown with a message in flight, the idle timeout, the per-client connection cap, the error limit,
// a thousand idle connections, and a 50 MB message streamed to disk without the server holding it in memory.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct SMTPServerBehaviourTests {
    static let user = "alice@example.test"

    /// Connects and checks the 220 greeting.
    static func greeted(_ office: TestPostOffice, timeoutSeconds: Int = 10) throws -> SMTPTestClient {
        let client = try SMTPTestClient(connectingTo: office.smtpAddress, timeoutSeconds: timeoutSeconds)
        let greeting = try client.readReply()
        try #require(greeting.code == 220, "\(greeting)")
        return client
    }

    @Test func shutdownFinishesTheMessageInDataThenSays421() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let sending = try Self.greeted(office)
        #expect(try sending.command("EHLO client.example.net").code == 250)
        #expect(try sending.command("MAIL FROM:<s@example.net>").code == 250)
        #expect(try sending.command("RCPT TO:<\(Self.user)>").code == 250)
        #expect(try sending.command("DATA").code == 354)
        try sending.connection.send("Subject: in flight\r\n\r\nfirst half\r\n")
        let idle = try Self.greeted(office)
        #expect(try idle.command("EHLO idle.example.net").code == 250)

        let server = office.server
        let address = office.smtpAddress
        let finished = DispatchSemaphore(value: 0)
        Thread {
            server.shutdown()
            finished.signal()
        }.start()
        while !office.server.smtpAddresses.isEmpty { usleep(1_000) }
        usleep(300_000)

        // The idle session is told at once; the one in DATA is not interrupted.
        let idleReply = try idle.readReply()
        #expect(idleReply.code == 421)
        #expect(idleReply.lines == ["4.3.2 Service shutting down, closing transmission channel"])
        #expect(idle.connection.isClosedByPeer() || idle.connection.readToEnd().isEmpty)

        try sending.connection.send("second half\r\n.\r\n")
        let accepted = try sending.readReply()
        #expect(accepted.code == 250, "\(accepted)")
        #expect(accepted.enhancedCode == "2.0.0")
        let goodbye = try sending.readReply()
        #expect(goodbye.code == 421)
        #expect(goodbye.enhancedCode == "4.3.2")
        #expect(sending.connection.readToEnd().isEmpty)
        #expect(finished.wait(timeout: .now() + 30) == .success, "shutdown did not return")

        let stored = try office.waitForMessage(for: Self.user)
        #expect(stored.hasSuffix("Subject: in flight\n\nfirst half\nsecond half\n"))
        // Nothing listens any more.
        #expect(throws: (any Error).self) { try LineClient(connectingTo: address, timeoutSeconds: 2) }
    }

    @Test func anIdleClientIsDisconnectedWith421() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"]) { $0.limits.smtpCommandTimeoutSeconds = 1 }
        defer { office.stop() }
        let client = try Self.greeted(office)
        #expect(try client.command("EHLO client.example.net").code == 250)
        // Say nothing: the server's one-second timer fires well within the client's ten-second read.
        let reply = try client.readReply()
        #expect(reply.code == 421)
        #expect(reply.lines == ["4.4.2 Error: timeout exceeded"])
        #expect(client.connection.readToEnd().isEmpty)
        #expect(client.connection.isClosedByPeer())
    }

    @Test func theFourthConnectionFromOneAddressIsRefused() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"]) {
            $0.limits.limitsLoopbackConnections = true
            $0.limits.connectionsPerAddress = 3
        }
        defer { office.stop() }
        var clients = try (0..<3).map { _ in try Self.greeted(office) }
        let fourth = try SMTPTestClient(connectingTo: office.smtpAddress)
        let refusal = try fourth.readReply()
        #expect(refusal.code == 421)
        #expect(refusal.lines == ["4.7.0 mx.test Too many connections, try again later"])
        #expect(fourth.connection.readToEnd().isEmpty)

        // When one leaves, there is room again.
        #expect(try clients[0].command("QUIT").code == 221)
        clients.removeFirst()
        for _ in 0..<500 where office.server.connectionCount > 2 { usleep(10_000) }
        let again = try Self.greeted(office)
        #expect(try again.command("NOOP").code == 250)
        _ = clients
    }

    @Test func theHardErrorLimitEndsTheSession() throws {
        let office = try TestPostOffice(users: [Self.user: "pw"]) {
            $0.limits.softErrorLimit = 2
            $0.limits.hardErrorLimit = 3
            $0.limits.errorDelayMilliseconds = 10
        }
        defer { office.stop() }
        let client = try Self.greeted(office)
        #expect(try client.command("EHLO client.example.net").code == 250)
        #expect(try client.command("BOGUS1").code == 500)
        #expect(try client.command("RCPT TO:<x@example.test>").code == 503)
        #expect(try client.command("BOGUS3").code == 500)
        // Past the hard limit the error reply is replaced by 421 and the session ends (Postfix does the same).
        let last = try client.command("BOGUS4")
        #expect(last.code == 421)
        #expect(last.lines == ["4.7.0 Error: too many errors"])
        #expect(client.connection.readToEnd().isEmpty)
        #expect(client.connection.isClosedByPeer())
    }

    /// Raises the soft descriptor limit to at least `needed` (up to the hard limit); returns the soft limit.
    static func raiseDescriptorLimit(to needed: UInt) -> UInt {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < rlim_t(needed) {
            limit.rlim_cur = min(rlim_t(needed), limit.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return UInt(limit.rlim_cur)
    }

    // Each connection costs a descriptor on both ends, and both ends are in this process.
    @Test(.enabled(if: raiseDescriptorLimit(to: 2200) >= 2200, "the RLIMIT_NOFILE hard limit is below 2,200"))
    func aThousandIdleConnectionsAreHeld() throws {
        let count = 1000
        let office = try TestPostOffice(users: [Self.user: "pw"])
        defer { office.stop() }
        let before = LiveTestSupport.residentBytes()
        var clients: [SMTPTestClient] = []
        clients.reserveCapacity(count)
        for _ in 0..<count {
            clients.append(try SMTPTestClient(connectingTo: office.smtpAddress))
        }
        var greeted = 0
        for client in clients where (try? client.readReply().code) == 220 { greeted += 1 }
        #expect(greeted == count)
        #expect(office.server.connectionCount == count)
        if let before, let after = LiveTestSupport.residentBytes() {
            // Both ends live in this process: the figure is an upper bound on the server's share.
            print("RSS with \(count) idle SMTP connections: +\((after - before) / 1024) KiB, \((after - before) / count) bytes per connection (client and server side together)")
        }
        // The server still serves a new session while they wait.
        let fresh = try Self.greeted(office)
        #expect(try fresh.command("EHLO fresh.example.net").code == 250)
        #expect(try fresh.sendMail(from: "s@example.net", to: [Self.user], body: "Subject: busy\n\nstill here\n").code == 250)
        #expect(try fresh.command("QUIT").code == 221)
        #expect(office.messages(for: Self.user).count == 1)
        clients.removeAll()
        for _ in 0..<500 where office.server.connectionCount > 0 { usleep(10_000) }
        #expect(office.server.connectionCount == 0)
    }

    @Test func aFiftyMegabyteMessageIsStreamedToDisk() throws {
        let size = 50 * 1024 * 1024
        let office = try TestPostOffice(users: [Self.user: "pw"]) { $0.limits.maximumMessageSize = 64 * 1024 * 1024 }
        defer { office.stop() }
        let client = try Self.greeted(office, timeoutSeconds: 120)
        #expect(try client.command("EHLO big.example.net").code == 250)
        #expect(try client.command("MAIL FROM:<s@example.net> SIZE=\(size)").code == 250)
        #expect(try client.command("RCPT TO:<\(Self.user)>").code == 250)
        #expect(try client.command("DATA").code == 354)
        let before = try #require(LiveTestSupport.residentBytes())

        // 64 KiB chunks of 100-byte lines, every tenth line starting with a dot (stuffed on the wire).
        var line = Array(repeating: UInt8(ascii: "x"), count: 98) + [13, 10]
        var chunk: [UInt8] = Array("Subject: fifty megabytes\r\n\r\n".utf8)
        var sent = chunk.count
        var lineNumber = 0
        var peak = before
        while sent < size {
            lineNumber += 1
            line[0] = lineNumber % 10 == 0 ? UInt8(ascii: ".") : UInt8(ascii: "x")
            if line[0] == UInt8(ascii: ".") { chunk.append(UInt8(ascii: ".")) }
            chunk += line
            sent += line.count
            if chunk.count >= 64 * 1024 {
                try client.connection.send(chunk)
                chunk.removeAll(keepingCapacity: true)
                if lineNumber % 5000 == 0, let now = LiveTestSupport.residentBytes() { peak = max(peak, now) }
            }
        }
        try client.connection.send(chunk + Array(".\r\n".utf8))
        let reply = try client.readReply()
        #expect(reply.code == 250, "\(reply)")
        let after = try #require(LiveTestSupport.residentBytes())
        peak = max(peak, after)
        let growth = peak - before
        print("RSS growth while receiving a 50 MB message: \(growth / 1024) KiB (before \(before / 1024) KiB, peak \(peak / 1024) KiB)")
        #expect(growth < 64 * 1024 * 1024)

        // Stored whole: the file holds the message with LF line endings plus our trace headers.
        let address = try #require(MailAddress(Self.user))
        let maildir = try #require(office.server.maildirPath(for: address))
        let files = LiveTestSupport.files(in: maildir + "/new")
        try #require(files.count == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: maildir + "/new/" + files[0])
        let stored = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let lines = lineNumber + 2
        #expect(stored > sent - lines && stored < sent - lines + 1024, "stored \(stored) bytes for \(sent) sent")
        #expect(try client.command("QUIT").code == 221)
    }
}
