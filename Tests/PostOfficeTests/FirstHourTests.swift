// FirstHourTests: issue 18, "the first hour of a new user", against the real `postoffice` binary — the
// generated postoffice.conf means what is in effect line by line, TLS on and off, run_as_user and a root-made
// data folder, deliver from another directory, the postmaster password after a failed start, and the CLI's
// refusals and per-command help.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct FirstHourTests {
    typealias Outcome = CommandLineEndToEndTests.Outcome
    static let binary = CommandLineEndToEndTests.binary
    static let built = binary != nil

    /// Runs the binary to completion in `directory` (the test's working directory when nil).
    static func run(_ arguments: [String], in directory: String? = nil, input: String = "") throws -> Outcome {
        try CommandLineEndToEndTests.run(arguments, in: directory, input: input)
    }

    /// A running `postoffice serve` on free ports.
    final class Server {
        let process = Process()
        let stdout = Pipe()
        let smtp: SocketAddress
        let pop3: SocketAddress

        init(_ arguments: [String], in directory: String? = nil) throws {
            process.executableURL = URL(fileURLWithPath: try #require(FirstHourTests.binary))
            process.arguments = ["serve", "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0", "--submission", "127.0.0.1:0"] + arguments
            if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
            process.standardOutput = stdout
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            do {
                (smtp, pop3) = try CommandLineEndToEndTests.listeningAddresses(stdout.fileHandleForReading)
            } catch {
                kill(process.processIdentifier, SIGKILL)
                throw error
            }
        }

        func stop() {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    /// The EHLO reply lines of a fresh session.
    static func ehlo(_ smtp: SocketAddress) throws -> [String] {
        let client = try SMTPTestClient(connectingTo: smtp)
        _ = try client.readReply()
        let reply = try client.command("EHLO probe.example.net")
        _ = try client.command("QUIT")
        return reply.lines
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    // MARK: - 2. The generated postoffice.conf

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func everyTemplateLineUncommentedAloneKeepsTheEffectiveConfiguration() throws {
        let root = try LiveTestSupport.temporaryDirectory("template")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A relative --data, as in the README's first steps.
        let server = try Server(["--data", "./postoffice-data"], in: root)
        server.stop()
        let data = root + "/postoffice-data"
        let template = try String(contentsOfFile: data + "/postoffice.conf", encoding: .utf8)
        #expect(template.contains("\n#mail_root = mail\n"))
        #expect(template.contains("\n#users_file = users\n"))
        #expect(template.contains("\n#tls_certificate = tls/certificate.pem\n"))
        #expect(template.contains("\n#tls_private_key = tls/private-key.pem\n"))
        // The command sends mail out of the box, as Postfix does (the library's default stays off).
        #expect(template.contains("\n#deliver_outbound = yes\n"))

        let baseline = try Self.run(["check", "--data", "./postoffice-data"], in: root)
        try #require(baseline.status == 0, "\(baseline.errorOutput)")
        #expect(baseline.output.contains("\ntls_certificate = tls/certificate.pem\n"))
        #expect(baseline.output.contains("\ndeliver_outbound = yes\n"))
        let keyLines = template.split(separator: "\n").filter { line in
            guard line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { return false }
            let key = line[line.index(after: line.startIndex)..<eq].trimmingCharacters(in: .whitespaces)
            return !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }  // smtp_tls_CAfile too
        }
        #expect(keyLines.count >= 30)
        for line in keyLines {
            try Self.write(template.replacingOccurrences(of: "\n" + line + "\n", with: "\n" + line.dropFirst() + "\n"), to: data + "/postoffice.conf")
            let checked = try Self.run(["check", "--data", "./postoffice-data"], in: root)
            #expect(checked.status == 0, "uncommenting \(line): \(checked.errorOutput)")
            #expect(checked.output == baseline.output, "uncommenting \(line) changed the configuration")
        }
        // The users file still found where the uncommented line says.
        try Self.write("users_file = users\nmail_root = mail\n", to: data + "/postoffice.conf")
        let users = try Self.run(["user", "list", "--data", "./postoffice-data"], in: root)
        #expect(users.status == 0, "\(users.errorOutput)")
        #expect(users.output == "postmaster@localhost\n")
    }

    // MARK: - 3. TLS off, implicit TLS with the default certificate, ciphers

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func emptyTLSKeysTurnStartTLSOff() throws {
        let data = try LiveTestSupport.temporaryDirectory("tlsoff")
        defer { try? FileManager.default.removeItem(atPath: data) }
        // The first start makes the self-signed pair and offers STARTTLS.
        let first = try Server(["--data", data])
        #expect(try Self.ehlo(first.smtp).contains("STARTTLS"))
        first.stop()
        try Self.write("tls_certificate =\ntls_private_key =\n", to: data + "/postoffice.conf")
        let second = try Server(["--data", data])
        defer { second.stop() }
        #expect(!(try Self.ehlo(second.smtp).contains("STARTTLS")))
        let checked = try Self.run(["check", "--data", data])
        #expect(checked.output.contains("\ntls_certificate = \n"), "\(checked.output)")
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func implicitTLSListenersStartWithTheDefaultCertificate() throws {
        let data = try LiveTestSupport.temporaryDirectory("smtps")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Self.write("smtps_listen = 127.0.0.1:0\npop3s_listen = 127.0.0.1:0\n", to: data + "/postoffice.conf")
        let server = try Server(["--data", data])
        defer { server.stop() }
        let checked = try Self.run(["check", "--data", data])
        #expect(checked.status == 0, "\(checked.errorOutput)")
        // The old key name still works, and `check` shows it under its new name.
        #expect(checked.output.contains("\nsubmissions_listen = 127.0.0.1:0\n"))
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func theDefaultCipherListIsECDHEWithAEADOnly() throws {
        let data = try LiveTestSupport.temporaryDirectory("ciphers")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try Server(["--data", data])
        server.stop()
        let checked = try Self.run(["check", "--data", data])
        let line = try #require(checked.output.split(separator: "\n").first { $0.hasPrefix("tls_cipher_list = ") })
        let ciphers = line.dropFirst("tls_cipher_list = ".count).split(separator: ":")
        #expect(!ciphers.isEmpty)
        for cipher in ciphers {
            #expect(cipher.hasPrefix("ECDHE-") && (cipher.contains("GCM") || cipher.contains("CHACHA20-POLY1305")), "\(cipher)")
        }
    }

    // MARK: - 4. run_as_user

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: getuid() == 0 && getpwnam("nobody") != nil, "needs root and the user nobody"))
    func runAsUserRefusesADataFolderItCannotWrite() throws {
        let root = try LiveTestSupport.temporaryDirectory("runas")
        defer { try? FileManager.default.removeItem(atPath: root) }
        chmod(root, 0o755)
        let data = root + "/data"
        // Made by root, as `sudo postoffice user add` before the first start would.
        let added = try Self.run(["user", "add", "alice@localhost", "--password-stdin", "--data", data], input: "pw\n")
        try #require(added.status == 0, "\(added.errorOutput)")
        try Self.write("run_as_user = nobody\n", to: data + "/postoffice.conf")
        let refused = try Self.run(["serve", "--data", data, "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0", "--submission", "127.0.0.1:0"])
        #expect(refused.status == 78)
        #expect(refused.errorOutput.split(separator: "\n").count == 1, "\(refused.errorOutput)")
        #expect(refused.errorOutput.contains("run_as_user = nobody cannot write \(data)"), "\(refused.errorOutput)")
        #expect(refused.errorOutput.contains("chown -R nobody: \(data)"), "\(refused.errorOutput)")
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"),
          .enabled(if: getuid() == 0 && getpwnam("nobody") != nil, "needs root and the user nobody"))
    func runAsUserGetsTheDataFolderTheServerMadeAndDelivers() throws {
        let root = try LiveTestSupport.temporaryDirectory("runas-fresh")
        defer { try? FileManager.default.removeItem(atPath: root) }
        chmod(root, 0o755)
        let data = root + "/data"
        let config = root + "/postoffice.conf"
        try Self.write("run_as_user = nobody\n", to: config)
        let server = try Server(["--data", data, "--config", config])
        defer { server.stop() }
        let client = try SMTPTestClient(connectingTo: server.smtp)
        _ = try client.readReply()
        _ = try client.command("HELO probe.example.net")
        #expect(try client.sendMail(from: "probe@example.net", to: ["postmaster@localhost"], body: "Subject: hi\r\n\r\nhello\r\n").code == 250)
        _ = try client.command("QUIT")
        #expect(LiveTestSupport.files(in: data + "/mail/localhost/postmaster/new").count == 1)
        var status = stat()
        #expect(stat(data, &status) == 0 && status.st_uid == getpwnam("nobody").pointee.pw_uid)
    }

    // MARK: - 5. deliver from another directory

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func deliverWithoutADataFolderIsAConfigurationErrorNotABounce() throws {
        let elsewhere = try LiveTestSupport.temporaryDirectory("elsewhere")
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let outcome = try Self.run(["deliver", "--to", "alice@localhost"], in: elsewhere, input: "Subject: x\n\nbody\n")
        #expect(outcome.status == 78)
        #expect(outcome.errorOutput.contains("no data folder at ./postoffice-data (in \(elsewhere))"), "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.split(separator: "\n").count == 1)

        let help = try Self.run(["deliver", "--help"])
        #expect(help.status == 0)
        for text in ["--data DIR", "64  EX_USAGE", "67  EX_NOUSER", "75  EX_TEMPFAIL", "78  EX_CONFIG"] {
            #expect(help.output.contains(text), "\(text)")
        }
    }

    // MARK: - 6. The postmaster password after a failed first start

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func aFailedFirstStartStillShowsThePostmasterPassword() throws {
        let data = try LiveTestSupport.temporaryDirectory("taken") + "/data"
        defer { try? FileManager.default.removeItem(atPath: data + "/..") }
        // Hold a port, so the first start cannot listen.
        let blocker = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(blocker) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(blocker, $0, length) == 0 && listen(blocker, 1) == 0 && getsockname(blocker, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let failed = try Self.run(["serve", "--data", data, "--smtp", "127.0.0.1:\(port)", "--pop3", "127.0.0.1:0", "--submission", "127.0.0.1:0"])
        #expect(failed.status != 0)
        #expect(failed.errorOutput.contains("cannot listen"), "\(failed.errorOutput)")
        #expect(failed.output.contains("postoffice user passwd postmaster@localhost"), "\(failed.output)")
        let words = failed.output.split(whereSeparator: { $0 == " " || $0 == "\n" })
        let index = try #require(words.firstIndex(of: "password"))
        let password = String(words[words.index(after: index)])

        // The password printed is the one stored.
        let server = try Server(["--data", data])
        defer { server.stop() }
        let client = try POP3TestClient(connectingTo: server.pop3)
        try client.login("postmaster@localhost", password: password)
        try client.quit()
    }

    // MARK: - 7. Refusals and help

    static let refusals: [CommandLineEndToEndTests.BadInput] = [
        .init(label: "user that does not exist", config: "run_as_user = nosuchuser\n", arguments: ["check"],
              expected: "postoffice.conf:1: run_as_user: no such user 'nosuchuser'"),
        .init(label: "white space inside a domain", config: "domains = exa mple.test\n", arguments: ["check"],
              expected: "postoffice.conf:1: domains: 'exa mple.test' has white space inside: separate domains with commas"),
        .init(label: "trailing dot of a domain", config: "domains = example.test.\n", arguments: ["check"],
              expected: "postoffice.conf:1: domains: 'example.test.' ends with a dot: write example.test"),
        .init(label: "port out of range in the file", config: "smtp_listen = 0.0.0.0:70000\n", arguments: ["check"],
              expected: "postoffice.conf:1: smtp_listen: '0.0.0.0:70000': port 70000 is out of range 0...65535"),
        .init(label: "port out of range on the command line", config: nil, arguments: ["check", "--smtp", "0.0.0.0:70000"],
              expected: "--smtp '0.0.0.0:70000': port 70000 is out of range 0...65535"),
        .init(label: "alias without targets", config: nil, arguments: ["alias", "add", "a@localhost"],
              expected: "alias add needs ALIAS and at least one TARGET"),
    ]

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"), arguments: refusals)
    func refusalsNameTheProblem(_ input: CommandLineEndToEndTests.BadInput) throws {
        let data = try LiveTestSupport.temporaryDirectory("refusal")
        defer { try? FileManager.default.removeItem(atPath: data) }
        if let config = input.config { try Self.write(config, to: data + "/postoffice.conf") }
        let outcome = try Self.run(input.arguments + ["--data", data])
        #expect(outcome.status == 2)
        #expect(outcome.output.isEmpty)
        #expect(outcome.errorOutput.split(separator: "\n").count == 1, "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.contains(input.expected), "\(outcome.errorOutput)")
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func checkWithoutADataFolderExits78() throws {
        let outcome = try Self.run(["check", "--data", "/nonexistent/postoffice-data"])
        #expect(outcome.status == 78)
        #expect(outcome.output.isEmpty)
        #expect(outcome.errorOutput.contains("no data folder at /nonexistent/postoffice-data: pass --data DIR"), "\(outcome.errorOutput)")
        let users = try Self.run(["user", "list", "--data", "/nonexistent/postoffice-data"])
        #expect(users.status == 78)
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"))
    func aliasAddNeedsReplaceToChangeAnAliasAndRefusesLoops() throws {
        let data = try LiveTestSupport.temporaryDirectory("aliases")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try Self.write("alice@localhost:{PLAIN}pw\nbob@localhost:{PLAIN}pw\n", to: data + "/users")
        #expect(try Self.run(["alias", "add", "info@localhost", "alice@localhost", "--data", data]).status == 0)
        let again = try Self.run(["alias", "add", "info@localhost", "bob@localhost", "--data", data])
        #expect(again.status == 2)
        #expect(again.errorOutput.contains("alias info@localhost already exists (-> alice@localhost): use `postoffice alias add --replace`"),
                "\(again.errorOutput)")
        #expect(try Self.run(["alias", "list", "--data", data]).output == "info@localhost\talice@localhost\n")
        let replaced = try Self.run(["alias", "add", "--replace", "info@localhost", "bob@localhost", "--data", data])
        #expect(replaced.status == 0, "\(replaced.errorOutput)")
        #expect(replaced.output == "info@localhost -> bob@localhost (replaced alice@localhost)\n")

        let itself = try Self.run(["alias", "add", "loop@localhost", "loop@localhost", "--data", data])
        #expect(itself.status == 2)
        #expect(itself.errorOutput.contains("alias loop@localhost would loop (loop@localhost -> loop@localhost)"), "\(itself.errorOutput)")
        #expect(try Self.run(["alias", "add", "a@localhost", "b@localhost", "--data", data]).status == 0)
        let around = try Self.run(["alias", "add", "b@localhost", "a@localhost", "--data", data])
        #expect(around.status == 2)
        #expect(around.errorOutput.contains("(b@localhost -> a@localhost -> b@localhost)"), "\(around.errorOutput)")
        // Keeping a copy in the user's own mailbox is not a loop.
        let copy = try Self.run(["alias", "add", "alice@localhost", "alice@localhost,bob@localhost", "--data", data])
        #expect(copy.status == 0, "\(copy.errorOutput)")
        #expect(try Self.run(["alias", "list", "--data", data]).output.split(separator: "\n").count == 3)
    }

    @Test(.enabled(if: built, "the postoffice binary is not built (swift build --product postoffice)"),
          arguments: ["serve", "check", "user", "alias", "deliver"])
    func eachCommandHasItsOwnHelp(_ command: String) throws {
        let outcome = try Self.run([command, "--help"])
        #expect(outcome.status == 0)
        #expect(outcome.output.hasPrefix("Usage: postoffice \(command == "serve" ? "[serve]" : command)"), "\(outcome.output)")
        #expect(outcome.output.contains("Examples:"))
        #expect(try Self.run([command, "-h"]).output == outcome.output)
    }
}
