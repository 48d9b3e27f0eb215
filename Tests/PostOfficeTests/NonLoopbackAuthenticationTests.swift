// NonLoopbackAuthenticationTests: SMTP AUTH from a real non-loopback client with the default trust
// (plaintext_auth_networks = loopback). The test makes its own network namespace joined to this one by a
// veth pair on 198.18.0.0/15 (RFC 2544's test range); the server listens on the host end, Python's smtplib
// talks from inside the namespace: no AUTH before STARTTLS (538 5.7.11, RFC 4954 §4), no password checked.

import Foundation
import PostOffice
import PostOfficeTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A network namespace with a veth pair to this one: `hostAddress` here, `namespaceAddress` inside. Deleting
/// the namespace deletes the pair.
final class VethNamespace {
    let name: String
    let hostAddress: String
    let namespaceAddress: String

    /// Root, `ip` (iproute2) and python3 for the client inside.
    static var isAvailable: Bool { getuid() == 0 && ExternalTool.path("ip") != nil && ExternalTool.path("python3") != nil }

    init() throws {
        let pid = Int(getpid())
        name = "po-test-\(pid)"
        // One /30 per process, so parallel runs from other worktrees do not meet.
        let subnet = "198.18.\(pid % 251).\(4 * ((pid / 251) % 64))"
        let base = subnet.split(separator: ".").map { Int($0)! }
        hostAddress = "198.18.\(base[2]).\(base[3] + 1)"
        namespaceAddress = "198.18.\(base[2]).\(base[3] + 2)"
        let hostSide = "poh\(pid)"
        let namespaceSide = "pon\(pid)"
        _ = try? ExternalTool.run("ip", ["netns", "del", name])
        for command in [
            ["netns", "add", name],
            ["link", "add", hostSide, "type", "veth", "peer", "name", namespaceSide],
            ["link", "set", namespaceSide, "netns", name],
            ["addr", "add", hostAddress + "/30", "dev", hostSide],
            ["link", "set", hostSide, "up"],
            ["netns", "exec", name, "ip", "addr", "add", namespaceAddress + "/30", "dev", namespaceSide],
            ["netns", "exec", name, "ip", "link", "set", namespaceSide, "up"],
            ["netns", "exec", name, "ip", "link", "set", "lo", "up"],
        ] {
            let result = try ExternalTool.run("ip", command)
            guard result.status == 0 else {
                remove()
                throw TestClientError("ip \(command.joined(separator: " ")): \(result.errorOutput)")
            }
        }
    }

    /// Runs `arguments` inside the namespace.
    func run(_ arguments: [String], timeoutSeconds: Double = 60) throws -> ToolResult {
        try ExternalTool.run("ip", ["netns", "exec", name] + arguments, timeoutSeconds: timeoutSeconds)
    }

    func remove() { _ = try? ExternalTool.run("ip", ["netns", "del", name]) }
}

@Suite(.serialized) struct NonLoopbackAuthenticationTests {
    /// From inside the namespace: EHLO, AUTH PLAIN with and without an initial response, AUTH LOGIN, MAIL,
    /// then STARTTLS, EHLO and a login. One JSON object of what the server said.
    static let client = """
        import base64, json, smtplib, ssl, sys
        host, port = sys.argv[1], int(sys.argv[2])
        out = {}
        s = smtplib.SMTP(host, port, local_hostname="client.test", timeout=10)
        s.ehlo()
        out["auth_before_tls"] = s.has_extn("auth")
        out["starttls_offered"] = s.has_extn("starttls")
        def say(key, verb, argument):
            code, text = s.docmd(verb, argument)
            out[key] = [code, text.decode()]
        say("plain", "AUTH", "PLAIN " + base64.b64encode(b"\\0alice@example.test\\0pw").decode())
        say("plain_prompted", "AUTH", "PLAIN")
        say("login", "AUTH", "LOGIN")
        say("mail", "MAIL", "FROM:<alice@example.test>")
        s.docmd("RSET")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        s.starttls(context=context)
        s.ehlo()
        out["auth_after_tls"] = s.esmtp_features.get("auth", "").strip()
        code, text = s.login("alice@example.test", "pw")
        out["login_after_tls"] = [code, text.decode()]
        s.quit()
        print(json.dumps(out))
        """

    @Test(.enabled(if: VethNamespace.isAvailable, "needs root, ip (iproute2) and python3 for a network namespace"))
    func authenticationFromANonLoopbackClientWaitsForTLS() throws {
        let namespace = try VethNamespace()
        defer { namespace.remove() }
        let checked = LockedBox<[String]>([])
        var hooks = PostOfficeHooks()
        hooks.authenticate = { request in
            checked.update { $0.append(request.login) }
            return request.login == "alice@example.test" && request.password == "pw" ? MailAddress(request.login) : nil
        }
        // The defaults: plaintext_auth_on_loopback = yes, plaintext_auth_networks = loopback.
        let office = try TestPostOffice(users: ["alice@example.test": "pw"], hooks: hooks, tls: true) { c in
            c.submissionListeners = [SocketAddress(host: "127.0.0.1", port: 0), SocketAddress(host: namespace.hostAddress, port: 0)]
        }
        defer { office.stop() }
        #expect(office.server.configuration.plaintextAuthenticationNetworks == NetworkRange.loopback)
        let outside = try #require(office.server.submissionAddresses.first { $0.host == namespace.hostAddress })

        let python = try #require(ExternalTool.path("python3"))
        let result = try namespace.run([python, "-c", Self.client, outside.host, String(outside.port)])
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let answers = try #require(object, "\(result.output)")
        func reply(_ key: String) -> (Int, String) {
            let pair = answers[key] as? [Any] ?? []
            return (pair.first as? Int ?? 0, pair.last as? String ?? "")
        }
        #expect(answers["starttls_offered"] as? Bool == true)
        #expect(answers["auth_before_tls"] as? Bool == false, "AUTH is not even advertised in the clear off loopback")
        // Each mechanism is refused at once: no 334 prompt, so the client never sends a password.
        for key in ["plain", "plain_prompted", "login"] {
            let (code, text) = reply(key)
            #expect(code == 538, "\(key): \(code) \(text)")
            #expect(text.hasPrefix("5.7.11 "), "\(key): \(text)")
        }
        #expect(reply("mail").0 == 530, "still not logged in: \(reply("mail"))")
        // Under TLS the same client may log in; the verifier saw that login only.
        #expect(answers["auth_after_tls"] as? String == "PLAIN LOGIN")
        #expect(reply("login_after_tls").0 == 235, "\(reply("login_after_tls"))")
        #expect(checked.value == ["alice@example.test"], "only the login under TLS reached the verifier")

        // The control: from loopback the same server offers AUTH in the clear (plaintext_auth_networks).
        let loopback = try #require(office.server.submissionAddresses.first { $0.host == "127.0.0.1" })
        let local = try SMTPTestClient(connectingTo: loopback)
        #expect(try local.readReply().code == 220)
        #expect(try local.command("EHLO client.test").lines.contains("AUTH PLAIN LOGIN"))
    }
}
