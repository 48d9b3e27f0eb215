// ReloadCommandTests: issue 18.6 with the real binary — `postoffice reload` (through the pid file, not pkill)
// re-reads postoffice.conf, so a new domain works without a restart; `user add` reloads a running server by
// itself; and without a server, reload says so and exits 1.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ReloadCommandTests {
    static let built = FirstHourTests.binary != nil

    private func rcpt(_ smtp: SocketAddress, _ recipient: String) throws -> Int {
        let client = try SMTPTestClient(connectingTo: smtp)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        _ = try client.command("MAIL FROM:<s@example.net>")
        return try client.command("RCPT TO:<\(recipient)>").code
    }

    /// Polls for up to 10 s: the reload happens on the server's signal queue, after `reload` returned.
    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<200 {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func reloadReadsTheConfigurationAgain() throws {
        let data = try LiveTestSupport.temporaryDirectory("reload")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try FirstHourTests.Server(["--data", data])
        defer { server.stop() }
        #expect(try rcpt(server.smtp, "anyone@new.test") == 550)
        let conf = data + "/postoffice.conf"
        let text = try String(contentsOfFile: conf, encoding: .utf8)
        try (text + "\ndomains = localhost, new.test\ncatch_all = new.test=postmaster@localhost\n")
            .write(toFile: conf, atomically: true, encoding: .utf8)
        let reload = try FirstHourTests.run(["reload", "--data", data])
        #expect(reload.status == 0, "\(reload.errorOutput)")
        #expect(reload.output.contains("pid \(server.process.processIdentifier)"))
        #expect(try eventually { try rcpt(server.smtp, "anyone@new.test") == 250 })
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func userAddReloadsARunningServer() throws {
        let data = try LiveTestSupport.temporaryDirectory("reload-user")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try FirstHourTests.Server(["--data", data])
        defer { server.stop() }
        #expect(try rcpt(server.smtp, "carol@localhost") == 550)
        let added = try FirstHourTests.run(["user", "add", "carol@localhost", "--password-stdin", "--data", data], input: "pw\n")
        #expect(added.status == 0, "\(added.errorOutput)")
        #expect(added.output.contains("reloaded the running server"))
        #expect(try eventually { try rcpt(server.smtp, "carol@localhost") == 250 })
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func reloadWithoutAServerSaysSo() throws {
        let data = try LiveTestSupport.temporaryDirectory("reload-none")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let reload = try FirstHourTests.run(["reload", "--data", data])
        #expect(reload.status == 1)
        #expect(reload.errorOutput.contains("no server is running"))
    }
}
