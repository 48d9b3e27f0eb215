// EmbeddingTests: the server embedded in a program with its own hooks — a recipient check that refuses one
// address with a custom reply, a delivery hook that takes the spooled message, and a delivery observer —
// driven by Python's smtplib as any outside client would.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.serialized) struct EmbeddingTests {
    /// What the hooks saw.
    struct Seen: Sendable {
        var checked: [String] = []
        var spooled: [(recipients: [String], reversePath: String?, bytes: [UInt8], size: Int, path: String)] = []
        var reports: [(recipients: [String], files: [String], size: Int)] = []
    }

    static func hooks(_ seen: LockedBox<Seen>, capture: Bool) -> PostOfficeHooks {
        var hooks = PostOfficeHooks()
        hooks.checkRecipient = { request in
            seen.update { $0.checked.append(request.recipient.description) }
            switch request.recipient.localPart.lowercased() {
            case "blocked":
                return .reject(code: 553, enhancedCode: "5.7.26", text: "blocked@ is closed by the embedder")
            case "team", "tempfail":
                // Mail for team@ (and the test's tempfail@) goes to alice's Maildir.
                return MailAddress("alice@example.test").map { .accept(mailbox: $0) } ?? .useDefault
            default:
                return .useDefault
            }
        }
        if capture {
            hooks.deliver = { message in
                let bytes = PipeIO.readFile(atPath: message.path).map { [UInt8]($0) } ?? []
                seen.update {
                    $0.spooled.append((message.recipients.map(\.description), message.reversePath?.description, bytes, message.size, message.path))
                }
                if message.recipients.contains(where: { $0.localPart == "tempfail" }) { return .temporaryFailure("Embedder busy, try later") }
                return .accepted
            }
        }
        hooks.messageDelivered = { report in
            seen.update { $0.reports.append((report.recipients.map(\.description), report.files, report.size)) }
        }
        return hooks
    }

    static let script = """
        import smtplib, sys
        s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname='embedder.example.net')
        s.ehlo()
        s.mail('sender@example.net')
        for rcpt in sys.argv[3:]:
            code, text = s.rcpt(rcpt)
            print('RCPT %s %d %s' % (rcpt, code, text.decode()))
        try:
            code, text = s.data(sys.stdin.buffer.read())
        except smtplib.SMTPDataError as error:
            code, text = error.smtp_code, error.smtp_error
        print('DATA %d %s' % (code, text.decode()))
        s.quit()
        """

    static func drive(_ office: TestPostOffice, recipients: [String], message: String) throws -> [String] {
        let result = try ExternalTool.python(
            script, [office.smtpAddress.host, String(office.smtpAddress.port)] + recipients, input: Data(message.utf8))
        try #require(result.status == 0, "\(result.errorOutput)")
        return result.output.split(separator: "\n").map(String.init)
    }

    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func hooksDecideRecipientsAndTakeTheSpooledMessage() throws {
        let seen = LockedBox(Seen())
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], hooks: Self.hooks(seen, capture: true))
        defer { office.stop() }
        let message = "Subject: embedded\r\n\r\nline\r\n.dot line\r\n"
        let lines = try Self.drive(
            office, recipients: ["alice@example.test", "blocked@example.test", "team@example.test", "nobody@example.test"],
            message: message)
        #expect(lines == [
            "RCPT alice@example.test 250 2.1.5 Ok",
            "RCPT blocked@example.test 553 5.7.26 blocked@ is closed by the embedder",
            "RCPT team@example.test 250 2.1.5 Ok",
            "RCPT nobody@example.test 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown",
            "DATA 250 2.0.0 Ok",
        ])
        let state = seen.value
        #expect(state.checked == ["alice@example.test", "blocked@example.test", "team@example.test", "nobody@example.test"])
        try #require(state.spooled.count == 1)
        let spooled = state.spooled[0]
        // The spool file holds the message as received: un-stuffed, CRLF, no trace headers.
        #expect(spooled.bytes == Array(message.utf8))
        #expect(spooled.size == message.utf8.count)
        #expect(spooled.recipients == ["alice@example.test", "team@example.test"])
        #expect(spooled.reversePath == "sender@example.net")
        // The file is gone once the hook returned, and the Maildir was not used.
        #expect(!FileManager.default.fileExists(atPath: spooled.path))
        #expect(office.messages(for: "alice@example.test").isEmpty)
        try #require(state.reports.count == 1)
        #expect(state.reports[0].recipients == ["alice@example.test", "team@example.test"])
        #expect(state.reports[0].files.isEmpty)
        #expect(state.reports[0].size == message.utf8.count)

        // A temporary failure from the hook reaches the client as 451 with the hook's text.
        let failed = try Self.drive(office, recipients: ["tempfail@example.test"], message: message)
        #expect(failed.last == "DATA 451 4.3.0 Embedder busy, try later")
        #expect(seen.value.reports.count == 1)
    }

    @Test(.enabled(if: ExternalTool.path("python3") != nil, "python3 is not installed"))
    func theObserverSeesMaildirFilesWhenDeliveryIsTheDefault() throws {
        let seen = LockedBox(Seen())
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"], hooks: Self.hooks(seen, capture: false))
        defer { office.stop() }
        let message = "Subject: observed\r\n\r\nbody\r\n"
        let lines = try Self.drive(office, recipients: ["bob@example.test", "team@example.test", "alice@example.test"], message: message)
        #expect(lines.last == "DATA 250 2.0.0 Ok")
        let reports = seen.value.reports
        try #require(reports.count == 1)
        #expect(reports[0].recipients == ["bob@example.test", "team@example.test", "alice@example.test"])
        // One file per distinct mailbox (team@ and alice@ share alice's), each a full path to a stored file.
        #expect(reports[0].files.count == 2)
        for file in reports[0].files {
            let stored = try String(contentsOfFile: file, encoding: .utf8)
            #expect(stored.hasSuffix("Subject: observed\n\nbody\n"))
        }
        #expect(office.messages(for: "alice@example.test").count == 1)
        #expect(office.messages(for: "bob@example.test").count == 1)
    }
}
