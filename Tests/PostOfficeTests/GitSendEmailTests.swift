// GitSendEmailTests: issue 13's "git send-email" client — a patch made in a throwaway repository is mailed
// by git's own send-email (package git-email) through `postoffice sendmail` (as --sendmail-cmd, and as a
// link named sendmail given to --smtp-server) and through the submission port with STARTTLS and AUTH.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing

@Suite(.serialized) struct GitSendEmailTests {
    /// git-send-email is a git subcommand from package git-email (git alone lacks it), and needs the
    /// perl module Mail::Address (libmailtools-perl) to parse addresses.
    static let isInstalled: Bool = {
        guard ExternalTool.path("git") != nil,
            FileManager.default.isExecutableFile(atPath: "/usr/lib/git-core/git-send-email"),
            let result = try? ExternalTool.run("perl", ["-MMail::Address", "-e", "1"])
        else { return false }
        return result.status == 0
    }()

    /// The perl modules send-email needs for SMTP with STARTTLS and AUTH.
    static let speaksSMTPWithTLS: Bool = {
        guard isInstalled,
            let result = try? ExternalTool.run("perl", ["-MIO::Socket::SSL", "-MNet::SMTP", "-MAuthen::SASL", "-e", "1"])
        else { return false }
        return result.status == 0
    }()

    static var binary: String? { CommandLineEndToEndTests.binary }

    /// The environment git runs in: its own HOME (no user or system config), a fixed identity.
    static func gitEnvironment(_ home: String, extra: [String: String] = [:]) -> [String: String] {
        [
            "HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.test",
            "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.test", "LC_ALL": "C",
        ].merging(extra) { $1 }
    }

    /// A repository in `directory` with one commit ("Add a greeting file"), and its patch file.
    static func makePatch(in directory: String) throws -> String {
        let repository = directory + "/repository"
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        let environment = gitEnvironment(directory)
        func git(_ arguments: [String]) throws -> ToolResult {
            let result = try ExternalTool.run("git", ["-C", repository] + arguments, environment: environment)
            #expect(result.status == 0, "git \(arguments): \(result.errorOutput)")
            return result
        }
        _ = try git(["init", "-q"])
        try "hello from the patch\n".write(toFile: repository + "/greeting.txt", atomically: true, encoding: .utf8)
        _ = try git(["add", "greeting.txt"])
        _ = try git(["commit", "-q", "-m", "Add a greeting file"])
        let patch = try git(["format-patch", "-1", "-o", directory + "/patches"])
        return try #require(patch.output.split(separator: "\n").first.map(String.init))
    }

    /// Runs `git send-email` on `patch` with `options`, from alice to bob@example.test.
    static func sendEmail(_ patch: String, home: String, _ options: [String], environment: [String: String] = [:]) throws -> ToolResult {
        try ExternalTool.run("git", ["send-email"] + options + [
            "--to", "bob@example.test", "--from", "Alice <alice@example.test>", "--confirm=never", "--suppress-cc=all", patch,
        ], environment: gitEnvironment(home, extra: environment))
    }

    /// A data folder for the binary: alice and bob at example.test.
    static func makeDataFolder() throws -> String {
        let data = try LiveTestSupport.temporaryDirectory("git-send-email")
        try "alice@example.test:{PLAIN}pw\nbob@example.test:{PLAIN}pw\n".write(
            toFile: data + "/users", atomically: true, encoding: .utf8)
        try "hostname = mx.test\ndomains = example.test\n".write(toFile: data + "/postoffice.conf", atomically: true, encoding: .utf8)
        return data
    }

    static func stored(_ data: String, _ user: String) -> [String] {
        let folder = data + "/mail/example.test/\(user)/new"
        return LiveTestSupport.files(in: folder).compactMap { try? String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }
    }

    /// The patch as bob's mail: git's subject and body, the diff intact.
    static func expectPatch(_ message: String?) {
        guard let message else {
            Issue.record("bob got no message")
            return
        }
        #expect(message.contains("\nSubject: [PATCH] Add a greeting file\n"), "\(message)")
        #expect(message.contains("\nX-Mailer: git-send-email "))
        #expect(message.contains("\n+hello from the patch\n"), "\(message)")
        #expect(message.contains("\nFrom: Alice <alice@example.test>\n"))
    }

    /// `--sendmail-cmd` runs through the shell, so it can carry the subcommand and `--data`; git adds
    /// `-i` and the recipients. `--smtp-server` with a path runs that program the same way: here a link named
    /// sendmail, which finds the data folder in POSTOFFICE_DATA.
    @Test(.enabled(if: isInstalled, "git send-email is not installed (packages git-email, libmailtools-perl)"),
          .enabled(if: binary != nil, "the postoffice binary is not built (swift build --product postoffice)"),
          arguments: ["sendmail-cmd", "smtp-server-link"])
    func gitSendEmailThroughPostofficeSendmail(_ way: String) throws {
        let binary = try #require(Self.binary)
        let data = try Self.makeDataFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let home = try LiveTestSupport.temporaryDirectory("git-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let patch = try Self.makePatch(in: home)

        let result: ToolResult
        if way == "sendmail-cmd" {
            result = try Self.sendEmail(patch, home: home, ["--sendmail-cmd=\(binary) sendmail --data \(data)"])
        } else {
            let link = home + "/sendmail"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: binary)
            result = try Self.sendEmail(patch, home: home, ["--smtp-server=\(link)"], environment: ["POSTOFFICE_DATA": data])
        }
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        #expect(result.output.contains("Result: OK"), "\(result.output)")
        let messages = Self.stored(data, "bob")
        #expect(messages.count == 1)
        Self.expectPatch(messages.first)
        // The envelope sender: no -f from git, so the invoking user at the host name.
        #expect(messages.first?.hasPrefix("Return-Path: <") == true)
        #expect(Self.stored(data, "alice").isEmpty, "--suppress-cc=all: the author gets no copy")
    }

    /// The submission port as git's SMTP client uses it: STARTTLS (`--smtp-encryption=tls`), the server's
    /// certificate verified (git checks the name it connected to, so the test makes one for IP 127.0.0.1 with
    /// openssl), AUTH with --smtp-user/--smtp-pass.
    @Test(.enabled(if: speaksSMTPWithTLS,
        "git send-email or its SMTP modules are missing (git-email, libmailtools-perl, libio-socket-ssl-perl, libauthen-sasl-perl)"),
          .enabled(if: ExternalTool.path("openssl") != nil, "openssl is not installed"))
    func gitSendEmailThroughTheSubmissionPort() throws {
        let home = try LiveTestSupport.temporaryDirectory("git-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let certificate = home + "/certificate.pem"
        let key = home + "/private-key.pem"
        let made = try ExternalTool.run("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
        ])
        try #require(made.status == 0, "\(made.errorOutput)")
        let office = try TestPostOffice(users: ["alice@example.test": "pw", "bob@example.test": "pw"], tls: true) { c in
            c.tls = TLSConfiguration(certificateChainPath: certificate, privateKeyPath: key)
        }
        defer { office.stop() }
        let patch = try Self.makePatch(in: home)
        let options = [
            "--smtp-server=127.0.0.1", "--smtp-server-port=\(office.submissionAddress.port)", "--smtp-encryption=tls",
            "--smtp-ssl-cert-path=\(certificate)", "--smtp-domain=client.example.test",
            "--smtp-user=alice@example.test",
        ]
        let wrong = try Self.sendEmail(patch, home: home, options + ["--smtp-pass=wrong"])
        #expect(wrong.status != 0, "a wrong password must not send: \(wrong.output)")
        #expect((wrong.output + wrong.errorOutput).contains("5.7.8"), "\(wrong.output)\(wrong.errorOutput)")
        #expect(office.messages(for: "bob@example.test").isEmpty)

        let result = try Self.sendEmail(patch, home: home, options + ["--smtp-pass=pw"])
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        #expect(result.output.contains("Result: 250"), "\(result.output)")
        let message = try office.waitForMessage(for: "bob@example.test")
        Self.expectPatch(message)
        #expect(message.hasPrefix("Return-Path: <alice@example.test>\n"), "\(message)")
        #expect(message.contains("with ESMTPSA"), "TLS and AUTH in the Received: line (RFC 3848): \(message)")
    }
}
