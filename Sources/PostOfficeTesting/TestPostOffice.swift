// TestPostOffice: a whole server for an embedder's tests — temporary data folder, random loopback ports,
// named users — plus "wait for a message for alice" and cleanup. GreenMail's users ask for exactly this.

import Foundation
import PostOffice
import PostOfficeTLS

/// A PostOffice server on random loopback ports with a temporary data folder.
///
/// ```swift
/// let office = try TestPostOffice(users: ["alice@example.test": "secret"])
/// defer { office.stop() }
/// // send to office.smtpAddress with any SMTP client…
/// let message = try office.waitForMessage(for: "alice@example.test")
/// #expect(message.contains("Subject: hello"))
/// ```
public final class TestPostOffice: @unchecked Sendable {
    public let server: PostOfficeServer
    public let dataDirectory: String
    private let removesDataDirectory: Bool

    /// Starts a server. `users` maps addresses to passwords (stored as `{PLAIN}` in a temporary users
    /// file: test use only). Domains default to the users' domains.
    public init(
        users: [String: String] = ["alice@example.test": "secret"],
        domains: [String]? = nil,
        hooks: PostOfficeHooks = PostOfficeHooks(),
        logSink: any LogSink = DiscardingLogSink(),
        tls: Bool = false,
        clock: any MailClock = SystemClock(),
        configure: (inout PostOfficeConfiguration) -> Void = { _ in }
    ) throws {
        let directory = NSTemporaryDirectory() + "postoffice-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        dataDirectory = directory
        removesDataDirectory = true
        var configuration = PostOfficeConfiguration(hostname: "mx.test", dataDirectory: directory)
        configuration.domains = domains ?? Array(Set(users.keys.compactMap { MailAddress($0)?.normalizedDomain })).sorted()
        if configuration.domains.isEmpty { configuration.domains = ["example.test"] }
        configuration.smtpListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        configuration.pop3Listeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        configuration.submissionListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        configuration.limits.failedLoginDelayMilliseconds = 0
        // A test server never asks the machine's DNS servers (they may be anywhere): MX lookups go to a closed
        // loopback port and fail at once as temporary, unless a test names its own DNS server or relay host.
        configuration.dnsServers = ["127.0.0.1:1"]
        if tls {
            // A throwaway self-signed certificate; STARTTLS/STLS plus implicit-TLS listeners on free ports.
            let certificate = directory + "/certificate.pem"
            let key = directory + "/private-key.pem"
            try SelfSignedCertificate.createIfMissing(
                hostName: "mx.test", certificatePath: certificate, privateKeyPath: key,
                clock: SystemClock(), random: SystemRandomSource())
            configuration.tls = TLSConfiguration(certificateChainPath: certificate, privateKeyPath: key)
            configuration.smtpsListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
            configuration.pop3sListeners = [SocketAddress(host: "127.0.0.1", port: 0)]
        }
        configure(&configuration)
        let lines = users.sorted { $0.key < $1.key }.map { "\($0.key):{PLAIN}\($0.value)" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: configuration.usersFile, atomically: true, encoding: .utf8)
        server = try PostOfficeServer(configuration: configuration, hooks: hooks, logSink: logSink, clock: clock)
        try server.start()
        smtpAddress = server.smtpAddresses.first ?? configuration.smtpListeners[0]
        pop3Address = server.pop3Addresses.first ?? configuration.pop3Listeners[0]
        smtpsAddress = server.smtpsAddresses.first
        submissionAddress = server.submissionAddresses.first ?? configuration.submissionListeners[0]
        pop3sAddress = server.pop3sAddresses.first
        lmtpAddress = server.lmtpAddresses.first
    }

    /// The SMTP address to connect to (kept after ``stop()``, for tests of a stopped server).
    public let smtpAddress: SocketAddress
    /// The POP3 address to connect to.
    public let pop3Address: SocketAddress
    /// The implicit-TLS SMTP address (with `tls: true`).
    public let smtpsAddress: SocketAddress?
    /// The submission address (RFC 6409: AUTH required, then any domain; STARTTLS when `tls` is on).
    public let submissionAddress: SocketAddress
    /// The implicit-TLS POP3 address (with `tls: true`).
    public let pop3sAddress: SocketAddress?
    /// The first LMTP listener (TCP or Unix socket), when `configure` sets `lmtpListeners`.
    public let lmtpAddress: SocketAddress?

    /// The messages in `address`'s Maildir (new/ and cur/), oldest first, as stored.
    public func messages(for address: String) -> [String] {
        guard let parsed = MailAddress(address), let path = server.maildirPath(for: parsed) else { return [] }
        var files: [String] = []
        for sub in ["new", "cur"] {
            let dir = path + "/" + sub
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !name.hasPrefix(".") {
                files.append(dir + "/" + name)
            }
        }
        return files.sorted { ($0 as NSString).lastPathComponent < ($1 as NSString).lastPathComponent }
            .compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
    }

    /// Waits until `address` has at least `count` messages and returns the newest; throws after `timeoutSeconds`.
    @discardableResult
    public func waitForMessage(for address: String, count: Int = 1, timeoutSeconds: Double = 10) throws -> String {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            let found = messages(for: address)
            if found.count >= count, let last = found.last { return last }
            if Date() > deadline {
                throw TestClientError("no message for \(address) within \(timeoutSeconds) s (have \(found.count))")
            }
            usleep(20_000)
        }
    }

    /// Shuts the server down and removes the data folder.
    public func stop() {
        server.shutdown()
        if removesDataDirectory { try? FileManager.default.removeItem(atPath: dataDirectory) }
    }
}
