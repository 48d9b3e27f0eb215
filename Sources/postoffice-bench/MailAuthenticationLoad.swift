// MailAuthenticationLoad: `compare --mail-authentication` — PostOffice checks SPF, DKIM and DMARC on the
// benchmark's mail (issue 16): a dnsmasq on 127.0.0.1 serves example.test's SPF, DMARC and DKIM key records,
// and smtp-source sends messages DKIM-signed with that key (-F, a signed file per load size, through a small
// wrapper given to smtp_load.py as SMTP_SOURCE). Postfix gets the same signed bytes, without checking them.

import Foundation
import PostOfficeDKIM

/// The DNS server, the signed messages and the server settings of a mail-authentication run.
final class MailAuthenticationLoad {
    /// Where dnsmasq answers (UDP and TCP); loopback only.
    static let dnsHost = "127.0.0.1"
    static let dnsPort: UInt16 = 2753
    static let selector = "bench"
    /// The message sizes the SMTP loads ask smtp-source for (`-l`); each gets its own signed file.
    static let sizes = [1024, 10240, 102_400]

    let directory: String
    let log: RunLog
    private var dnsmasq: pid_t?

    /// Lines for postoffice.conf: checks on, loopback clients included, our DNS server.
    var configuration: String {
        """
        mail_authentication = yes
        mail_authentication_skip_networks =
        dns_servers = \(Self.dnsHost):\(Self.dnsPort)

        """
    }

    /// `directory`: where the signed messages, the wrapper and dnsmasq's log go (the run's state folder).
    init(directory: String, log: RunLog) {
        self.directory = directory
        self.log = log
    }

    /// Generates the key, writes the signed messages and the smtp-source wrapper (exported as SMTP_SOURCE for
    /// the load scripts), and starts dnsmasq with the records.
    func start(domain: String, sender: String, recipient: String) throws {
        guard let smtpSource = Subprocess.find("smtp-source") else { throw BenchmarkError("smtp-source not installed") }
        guard let dnsmasqPath = Subprocess.find("dnsmasq") ?? ["/usr/sbin/dnsmasq"].first(where: FileManager.default.isExecutableFile)
        else { throw BenchmarkError("--mail-authentication needs dnsmasq (apt-get install dnsmasq-base)") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let key = try DKIMGeneratedKey(.rsa)
        for size in Self.sizes {
            let message = try Self.signedMessage(size: size, key: key, domain: domain, sender: sender, recipient: recipient)
            // smtp-source -F reads lines and sends each with CRLF (and dot-stuffs): the file has LF endings.
            try message.replacing("\r\n", with: "\n").write(toFile: "\(directory)/signed-\(size).eml", atomically: true, encoding: .utf8)
        }
        // smtp-source refuses -l with -F: the wrapper turns "-l SIZE" into "-F signed-SIZE.eml".
        let wrapper = directory + "/smtp-source-signed"
        try """
            #!/bin/sh
            # postoffice-bench --mail-authentication: smtp-source sending a DKIM-signed message of the asked size
            size=1024
            for argument do
              shift
              if [ "$previous" = "-l" ]; then size=$argument; previous=; continue; fi
              previous=$argument
              [ "$argument" = "-l" ] && continue
              set -- "$@" "$argument"
            done
            exec \(smtpSource) -F \(directory)/signed-$size.eml "$@"

            """.write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        setenv("SMTP_SOURCE", wrapper, 1)  // smtp_load.py runs this instead of smtp-source

        // A TXT string holds at most 255 octets: dnsmasq takes comma-separated strings, the verifier joins them.
        let keyRecord = Self.strings(key.txtRecord).joined(separator: ",")
        let records = [
            "--txt-record=\(domain),v=spf1 ip4:127.0.0.0/8 -all",
            "--txt-record=_dmarc.\(domain),v=DMARC1; p=reject",
            "--txt-record=\(Self.selector)._domainkey.\(domain),\(keyRecord)",
        ]
        let arguments = [
            "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
            "--port=\(Self.dnsPort)", "--listen-address=\(Self.dnsHost)", "--bind-interfaces", "--local=/\(domain)/",
            "--local-ttl=300",
        ] + records
        dnsmasq = try Subprocess.start(dnsmasqPath, arguments, logFile: directory + "/dnsmasq.log")
        guard Subprocess.waitForPort(Self.dnsPort, seconds: 10) else {
            stop()
            throw BenchmarkError("dnsmasq did not start on \(Self.dnsHost):\(Self.dnsPort) (see \(directory)/dnsmasq.log)")
        }
        log.line("## mail authentication on: dnsmasq (pid \(dnsmasq.map(String.init) ?? "?")) \(Self.dnsHost):\(Self.dnsPort) serves SPF, DMARC (p=reject) and "
                 + "\(Self.selector)._domainkey.\(domain) (rsa-2048); every message DKIM-signed (relaxed/relaxed)")
    }

    func stop() {
        guard let dnsmasq else { return }
        self.dnsmasq = nil
        kill(dnsmasq, SIGKILL)
        _ = Subprocess.wait(dnsmasq)
    }

    /// The Authentication-Results header of one delivered message below `mailRoot`, to show the checks ran.
    static func sampleResult(mailRoot: String) -> String? {
        let fm = FileManager.default
        for mailbox in (try? fm.contentsOfDirectory(atPath: mailRoot)) ?? [] {
            let new = "\(mailRoot)/\(mailbox)/Maildir/new"
            guard let file = ((try? fm.contentsOfDirectory(atPath: new)) ?? []).first,
                let text = try? String(contentsOfFile: new + "/" + file, encoding: .utf8)
            else { continue }
            var lines: [String] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.isEmpty { break }
                if line.hasPrefix("Authentication-Results:") || (!lines.isEmpty && (line.hasPrefix(" ") || line.hasPrefix("\t"))) {
                    lines.append(line.trimmingCharacters(in: .whitespaces))
                } else if !lines.isEmpty {
                    break
                }
            }
            if !lines.isEmpty { return lines.joined(separator: " ") }
        }
        return nil
    }

    /// A message of about `size` body bytes (the corpus prose) from `sender`, signed by `key` for `domain`.
    static func signedMessage(size: Int, key: DKIMGeneratedKey, domain: String, sender: String, recipient: String) throws -> String {
        let corpus = MessageCorpus(size: size + 600).decodedCRLF
        let blankLine: [UInt8] = [13, 10, 13, 10]
        let bodyStart = ((0..<(corpus.count - 3)).first { Array(corpus[$0..<($0 + 4)]) == blankLine } ?? 0) + 4
        let body = String(decoding: corpus[bodyStart...].prefix(size), as: UTF8.self)
        let cut = body.range(of: "\r\n", options: .backwards).map { String(body[..<$0.upperBound]) } ?? body
        let message = """
            From: Benchmark <\(sender)>\r
            To: <\(recipient)>\r
            Subject: postoffice-bench, \(size) bytes, DKIM-signed\r
            Date: Sun, 06 Dec 2026 18:00:00 +0000\r
            Message-ID: <bench-\(size)@\(domain)>\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=utf-8\r
            \r

            """ + cut
        var signer = DKIMSigner(
            keys: [DKIMSigningKey(privateKey: key.privateKey, domain: domain, selector: selector)],
            time: Int(Date().timeIntervalSince1970))
        signer.receive(Array(message.utf8))
        return try signer.finish().joined() + message
    }

    /// `text` in pieces of at most 255 octets (ASCII here).
    static func strings(_ text: String) -> [String] {
        var pieces: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            pieces.append(String(rest.prefix(255)))
            rest = rest.dropFirst(255)
        }
        return pieces
    }
}
