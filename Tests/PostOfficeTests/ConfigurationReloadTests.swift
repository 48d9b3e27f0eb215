// ConfigurationReloadTests: issue 18.6. A reload applies domains, catch-alls and users to new sessions
// without a restart, and names the settings (listeners, folders) that still need one.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite struct ConfigurationReloadTests {
    private func rcpt(_ office: TestPostOffice, _ recipient: String) throws -> Int {
        let client = try SMTPTestClient(connectingTo: office.smtpAddress)
        _ = try client.readReply()
        _ = try client.command("EHLO client.test")
        _ = try client.command("MAIL FROM:<s@example.net>")
        return try client.command("RCPT TO:<\(recipient)>").code
    }

    @Test func aNewDomainAndCatchAllApplyWithoutARestart() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        #expect(try rcpt(office, "anyone@new.test") == 550)
        var next = office.server.currentConfiguration
        next.domains.append("new.test")
        next.catchAll["new.test"] = "alice@example.test"
        next.smtpListeners = [SocketAddress(host: "127.0.0.1", port: 1)]
        let report = try office.server.reload(configuration: next)
        #expect(report.applied.contains("domains"))
        #expect(report.applied.contains("catch_all"))
        #expect(report.needsRestart == ["smtp_listen"])
        #expect(try rcpt(office, "anyone@new.test") == 250)
        // The listener did not move: the running value is what the server reports.
        #expect(office.server.currentConfiguration.smtpListeners == office.server.configuration.smtpListeners)
    }

    @Test func aReloadThatFailsChangesNothing() throws {
        let office = try TestPostOffice(users: ["alice@example.test": "pw"])
        defer { office.stop() }
        var next = office.server.currentConfiguration
        next.domains.append("new.test")
        try "not a users file line\n".write(toFile: office.dataDirectory + "/bad-users", atomically: true, encoding: .utf8)
        next.usersFile = office.dataDirectory + "/bad-users"
        #expect(throws: (any Error).self) { try office.server.reload(configuration: next) }
        #expect(!office.server.currentConfiguration.domains.contains("new.test"))
        #expect(try rcpt(office, "alice@example.test") == 250)
    }
}
