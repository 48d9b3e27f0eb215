// DKIMVerifiers: the DKIM verifiers others wrote, run on messages our server signed — dkimpy (Debian
// python3-dkim, key records handed over through its `dnsfunc` hook) and OpenDKIM's `opendkim-testmsg`
// (opendkim-tools), which asks the system resolver: it runs in a private mount namespace whose
// /etc/resolv.conf names a dnsmasq on a loopback address serving the records, so nothing leaves the machine.

import Foundation
import PostOfficeCore
import PostOfficeDNS
@testable import PostOffice

enum DKIMVerifiers {
    /// A Python 3 that can `import dkim` (Debian's: a pyenv python3 on PATH lacks it).
    static let python: String? = {
        for candidate in ["/usr/bin/python3"] + ((ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" })
        where FileManager.default.isExecutableFile(atPath: candidate) {
            // Through env(1): ExternalTool looks names up on PATH, and this is a full path.
            if (try? ExternalTool.run("env", [candidate, "-c", "import dkim"], timeoutSeconds: 30))?.status == 0 { return candidate }
        }
        return nil
    }()

    static var hasDkimpy: Bool { python != nil }

    /// opendkim-testmsg, dnsmasq and the right to make a mount namespace (root) are all there.
    static let hasOpenDKIM: Bool = {
        guard ExternalTool.path("opendkim-testmsg") != nil, ExternalTool.path("dnsmasq") != nil,
            ExternalTool.path("unshare") != nil, geteuid() == 0
        else { return false }
        return (try? ExternalTool.run("unshare", ["-m", "true"], timeoutSeconds: 30))?.status == 0
    }()

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// dkimpy's verdict on each signature of each message, like "pass pass" (in the order of the fields).
    /// `records` maps `selector._domainkey.domain` (no final dot) to the TXT text.
    static func dkimpy(_ messages: [[UInt8]], records: [String: String]) throws -> [String] {
        guard let python else { throw Failure(description: "no python3 with dkim") }
        let script = """
            import sys, json, base64, dkim
            job = json.load(sys.stdin)
            records = job["records"]
            def dnsfunc(name, timeout=5):
                record = records.get(name.decode().rstrip("."))
                return record.encode() if record is not None else None
            out = []
            for text in job["messages"]:
                message = base64.b64decode(text)
                verifier = dkim.DKIM(message)
                count = len([1 for (name, value) in verifier.headers if name.lower() == b"dkim-signature"])
                verdicts = []
                for i in range(count):
                    try:
                        verdicts.append("pass" if verifier.verify(idx=i, dnsfunc=dnsfunc) else "fail")
                    except dkim.DKIMException as error:
                        verdicts.append("fail (%s)" % error)
                out.append(" ".join(verdicts))
            json.dump(out, sys.stdout)
            """
        let job: [String: Any] = ["records": records, "messages": messages.map { Data($0).base64EncodedString() }]
        let input = try JSONSerialization.data(withJSONObject: job)
        let result = try ExternalTool.run("env", [python, "-c", script], input: input, timeoutSeconds: 120)
        guard result.status == 0, let answers = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String] else {
            throw Failure(description: "dkimpy failed (\(result.status)): \(result.errorOutput)")
        }
        return answers
    }

    /// opendkim-testmsg's verdict on each message: "pass", or its complaint ("dkim_eom(): Bad signature").
    /// It checks the message's signatures (all must verify) against `records`, served by dnsmasq.
    static func openDKIM(_ messages: [[UInt8]], records: [String: String]) throws -> [String] {
        let directory = try LiveTestSupport.temporaryDirectory("opendkim")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try RecordServer(records: records)
        defer { server.stop() }
        try "nameserver \(server.host)\noptions timeout:2 attempts:2\n".write(
            toFile: directory + "/resolv.conf", atomically: true, encoding: .utf8)
        var files: [String] = []
        for (index, message) in messages.enumerated() {
            let path = directory + "/message\(index)"
            try Data(message).write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        // A private mount namespace: the bind mount of resolv.conf is seen by opendkim-testmsg only. Run with
        // system(3), not Process: Foundation never noticed this child's exit (it stayed a zombie).
        let script = """
            mount --bind "$1" /etc/resolv.conf || exit 99
            shift
            for file in "$@"; do
                opendkim-testmsg < "$file" > /dev/null 2> "$file.err"
                echo "$?"
            done
            """
        try script.write(toFile: directory + "/verify.sh", atomically: true, encoding: .utf8)
        let command = "timeout 120 unshare -m --propagation private sh \(directory)/verify.sh \(directory)/resolv.conf "
            + files.joined(separator: " ") + " > \(directory)/statuses 2> \(directory)/errors"
        let status = system(command)
        let output = (try? String(contentsOfFile: directory + "/statuses", encoding: .utf8)) ?? ""
        let statuses = output.split(separator: "\n").map(String.init)
        guard status == 0, statuses.count == files.count else {
            let errors = (try? String(contentsOfFile: directory + "/errors", encoding: .utf8)) ?? ""
            throw Failure(description: "opendkim-testmsg did not run (\(status)): \(output) \(errors)")
        }
        return zip(statuses, files).map { status, file in
            if status == "0" { return "pass" }
            let complaint = (try? String(contentsOfFile: file + ".err", encoding: .utf8)) ?? ""
            return "exit \(status): " + complaint.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// The message as a verifier reading a Maildir file sees it: line ends back to CRLF.
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 40)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 10 && previous != 13 { out.append(13) }
            out.append(byte)
            previous = byte
        }
        return out
    }

    /// The key records for keys written by ``DKIMKeyGeneration``: owner name without the final dot -> text.
    static func records(_ keys: [DKIMKeyGeneration]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: keys.map { (String($0.recordName.dropLast()), $0.recordText) })
    }
}

/// dnsmasq serving TXT records on port 53 of a loopback address of its own (resolv.conf has no port).
final class RecordServer: @unchecked Sendable {
    let host: String

    init(records: [String: String]) throws {
        var options: [String] = []
        for (name, text) in records.sorted(by: { $0.key < $1.key }) {
            // One option per record; its text as strings of at most 255 octets, as the zone line has it.
            var strings: [String] = []
            var rest = Substring(text)
            while !rest.isEmpty {
                strings.append(String(rest.prefix(250)))
                rest = rest.dropFirst(250)
            }
            options.append("--txt-record=\(name),\(strings.joined(separator: ","))")
        }
        var lastError: (any Error)?
        // An address of our own in 127/8: port 53 must be free there (other tests use other addresses).
        let base = Int(getpid()) % 200 + 20
        for attempt in 0..<10 {
            let candidate = "127.83.\(base).\(Int.random(in: 2...250) ^ attempt)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ExternalTool.path("dnsmasq")!)
            process.arguments = [
                "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                "--port=53", "--listen-address=\(candidate)", "--bind-interfaces", "--local-ttl=60",
            ] + options
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if Self.waitUntilAnswering(candidate, name: records.keys.sorted().first ?? "none.test", process: process) {
                host = candidate
                self.processStorage = process
                return
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            lastError = DNSMasqNotAnswering(address: candidate + ":53")
        }
        throw lastError ?? DNSMasqNotAnswering(address: "127.83.*:53")
    }

    private var processStorage: Process?

    func stop() {
        guard let process = processStorage else { return }
        processStorage = nil
        // SIGKILL: the child inherits the test runner's signal mask, where SIGTERM may be blocked.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }

    private static func waitUntilAnswering(_ host: String, name: String, process: Process) -> Bool {
        guard let configuration = try? DNSResolverConfiguration(servers: [], timeoutSeconds: 1, attempts: 1).overridingServers(["\(host):53"]),
            let query = try? DNSName(name)
        else { return false }
        for _ in 0..<100 {
            if case .answer = DNSTransport(configuration: configuration).lookup(query, .txt) { return true }
            guard process.isRunning else { return false }
            usleep(100_000)
        }
        return false
    }
}
