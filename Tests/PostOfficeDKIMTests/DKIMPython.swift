// DKIMPython: runs dkimpy (Debian python3-dkim) for the interoperability tests: batch signing and
// verification through a small script, with key records handed over through dkimpy's `dnsfunc` hook.

import Foundation

enum DKIMPython {
    /// A Python 3 that can `import dkim` (the system one first: a pyenv on PATH lacks Debian's modules).
    static let interpreter: String? = {
        var candidates = ["/usr/bin/python3"]
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/python3")
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            if run(candidate, ["-c", "import dkim"], input: Data()).status == 0 { return candidate }
        }
        return nil
    }()

    static var isAvailable: Bool { interpreter != nil }

    /// Reads a JSON job list on stdin. "sign" jobs: message, key, domain, selector, algorithm, canonicalization
    /// (answers the DKIM-Signature field); "verify" jobs: message, records (answers "pass"/"fail" per signature).
    static let script = #"""
        import sys, json, base64, dkim
        jobs = json.load(sys.stdin)
        out = []
        for job in jobs:
            message = base64.b64decode(job["message"])
            if job["mode"] == "sign":
                h, b = job["canonicalization"].split("/")
                field = dkim.sign(message, job["selector"].encode(), job["domain"].encode(), job["key"].encode(),
                                  canonicalize=(h.encode(), b.encode()),
                                  signature_algorithm=job["algorithm"].encode(),
                                  include_headers=[b"from", b"to", b"subject", b"date", b"subject"])
                out.append(field.decode())
            else:
                records = job["records"]
                def dnsfunc(name, timeout=5):
                    record = records.get(name.decode().rstrip("."))
                    return record.encode() if record is not None else None
                verifier = dkim.DKIM(message)
                count = len([1 for (name, value) in verifier.headers if name.lower() == b"dkim-signature"])
                out.append(" ".join("pass" if verifier.verify(idx=i, dnsfunc=dnsfunc) else "fail" for i in range(count)))
        json.dump(out, sys.stdout)
        """#

    struct SignJob {
        var message: [UInt8]
        var key: String
        var domain: String
        var selector: String
        var algorithm: String
        var canonicalization: String
    }

    /// dkimpy's DKIM-Signature field for each job, in order.
    static func sign(_ jobs: [SignJob]) throws -> [String] {
        try runJobs(jobs.map {
            [
                "mode": "sign", "message": Data($0.message).base64EncodedString(), "key": $0.key, "domain": $0.domain,
                "selector": $0.selector, "algorithm": $0.algorithm, "canonicalization": $0.canonicalization,
            ] as [String: Any]
        })
    }

    /// dkimpy's verdict on every signature of each message: "pass pass", "fail", ...
    static func verify(_ messages: [[UInt8]], records: [String: String]) throws -> [String] {
        try runJobs(messages.map { ["mode": "verify", "message": Data($0).base64EncodedString(), "records": records] })
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private static func runJobs(_ jobs: [[String: Any]]) throws -> [String] {
        guard let interpreter else { throw Failure(description: "no python3 with dkim") }
        let input = try JSONSerialization.data(withJSONObject: jobs)
        let (status, output, errors) = run(interpreter, ["-c", script], input: input)
        guard status == 0, let answers = try JSONSerialization.jsonObject(with: output) as? [String] else {
            throw Failure(description: "dkimpy failed (\(status)): \(String(decoding: errors, as: UTF8.self))")
        }
        return answers
    }

    /// Runs a process with `input` as its stdin; stdin and stderr go through temporary files, so only
    /// stdout is a pipe and nothing can stall.
    private static func run(_ executable: String, _ arguments: [String], input: Data) -> (status: Int32, output: Data, errors: Data) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dkim-python-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputURL = directory.appendingPathComponent("stdin")
        let errorURL = directory.appendingPathComponent("stderr")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try input.write(to: inputURL)
            try Data().write(to: errorURL)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardInput = try FileHandle(forReadingFrom: inputURL)
            process.standardError = try FileHandle(forWritingTo: errorURL)
            let stdout = Pipe()
            process.standardOutput = stdout
            try process.run()
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, output, (try? Data(contentsOf: errorURL)) ?? Data())
        } catch {
            return (-1, Data(), Data("\(error)".utf8))
        }
    }
}
