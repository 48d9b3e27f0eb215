// ExternalReaderTests: real mail readers accept what delivery writes — mblaze (mlist, mshow, mhdr) and
// Dovecot's doveadm with a tiny private configuration. Skipped, visibly, when the tools are missing.

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

/// Finds and runs command-line tools.
enum ExternalTool {
    static func path(_ name: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for directory in directories + ["/usr/sbin", "/usr/local/bin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func exists(_ name: String) -> Bool { path(name) != nil }

    /// Runs a tool; returns exit status, stdout and stderr.
    static func run(_ name: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(path(name)))
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }
}

@Suite struct ExternalReaderTests {
    static let message = "From: Sender <sender@example.com>\r\nTo: team@example.org\r\nSubject: Reader check\r\n"
        + "Message-ID: <reader-check@example.com>\r\n\r\nFirst body line.\r\nSecond body line.\r\n"

    /// Delivers the test message to alice and bob; returns alice's Maildir and the stored file name.
    static func deliverSample() throws -> (DeliveryFixture, Maildir, String) {
        let fixture = DeliveryFixture()
        let result = try fixture.deliver(bytes(message), to: ["team@example.org"], chunk: 10)
        #expect(result.overall.isDelivered)
        let maildir = fixture.maildir("alice", domain: "example.org")
        let name = try #require(files(in: maildir.newPath).first)
        return (fixture, maildir, name)
    }

    @Test(.enabled(if: ExternalTool.exists("mlist") && ExternalTool.exists("mshow"), "mblaze (mlist, mshow) is not installed"))
    func mblazeListsAndShowsTheMessage() throws {
        let (_, maildir, name) = try Self.deliverSample()
        let (listStatus, listed, _) = try ExternalTool.run("mlist", [maildir.path])
        #expect(listStatus == 0)
        #expect(listed == maildir.newPath + "/" + name + "\n")
        let (showStatus, shown, showErrors) = try ExternalTool.run("mshow", [maildir.newPath + "/" + name])
        #expect(showStatus == 0, "\(showErrors)")
        #expect(shown.contains("Subject: Reader check"))
        #expect(shown.contains("First body line.\nSecond body line."))
        let (_, subject, _) = try ExternalTool.run("mhdr", ["-h", "subject", maildir.newPath + "/" + name])
        #expect(subject == "Reader check\n")
        let (_, deliveredTo, _) = try ExternalTool.run("mhdr", ["-h", "delivered-to", maildir.newPath + "/" + name])
        #expect(deliveredTo == "alice@example.org\n")
    }

    @Test(.enabled(if: ExternalTool.exists("doveadm"), "dovecot (doveadm) is not installed"))
    func doveadmFetchesTheMessageWithMatchingSizes() throws {
        let (fixture, maildir, name) = try Self.deliverSample()
        // Dovecot refuses mail access as root, so as root the tree is handed to nobody (65534) first.
        var uid = getuid()
        var gid = getgid()
        if uid == 0 {
            uid = 65534
            gid = 65534
            let (status, _, errors) = try ExternalTool.run("chown", ["-R", "65534:65534", fixture.root])
            try #require(status == 0, "chown failed: \(errors)")
        }
        let configuration = fixture.root + "/dovecot.conf"
        let text = """
            mail_location = maildir:\(maildir.path)
            ssl = no
            mail_uid = \(uid)
            mail_gid = \(gid)
            first_valid_uid = 0
            first_valid_gid = 0
            log_path = /dev/stderr

            """
        try text.write(toFile: configuration, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["USER"] = "tester"
        environment["HOME"] = fixture.root
        // Without -u, doveadm serves the $USER of the environment and needs no auth service.
        let (status, output, errors) = try ExternalTool.run(
            "doveadm", ["-c", configuration, "fetch", "size.physical size.virtual hdr.subject body", "all"],
            environment: environment)
        #expect(status == 0, "doveadm failed: \(errors)")
        #expect(!errors.contains("Error"), "\(errors)")
        let stored = contents(of: maildir.newPath + "/" + name).count
        let storedName = files(in: maildir.newPath).first ?? files(in: maildir.curPath).first ?? ""
        #expect(storedName.hasPrefix(name))
        #expect(output.contains("size.physical: \(stored)\n"))
        let lineFeeds = contents(of: maildir.newPath + "/" + name).filter { $0 == 0x0A }.count
        #expect(output.contains("size.virtual: \(stored + lineFeeds)\n"))
        #expect(output.contains("hdr.subject: Reader check"))
        #expect(output.contains("First body line."))
    }
}
