// CopyBenchmarks: `postoffice-bench copy` — the ways of giving several recipients a copy of one message, on
// the real file system: a delivery commit with each `DeliveryConfiguration.CopyMethod` (fsyncs included),
// and the raw primitives underneath (copy_file_range, read/write, link). Moved here from the unit suite,
// which only checks that the copies are right; timings belong in a benchmark, not in `swift test`.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDelivery

/// The copy-method measurements; each reports the median of five timed runs after a warm-up.
struct CopyBenchmarks {
    /// Message body size in bytes.
    var bodySize = 8 * 1024 * 1024
    /// Recipients (copies) per message.
    var recipientCount = 20
    /// Where the temporary Maildirs go; a file system like the one mail will live on gives the honest number.
    var directory = "/tmp"

    static let help = """
        Usage: postoffice-bench copy [--size BYTES] [--recipients N] [--directory PATH] [--quick]

          Times one delivery commit of a BYTES message to N recipients with each copy method (copyBody:
          per-recipient trace headers and a kernel copy of the body; hardLink: one file, linked), fsyncs
          included, and the raw copies underneath (copy_file_range, read/write, link). Median of 5 runs.
          Defaults: 8 MiB to 20 recipients in /tmp; --quick is 256 KiB to 5.
        """

    init(_ arguments: [String]) throws {
        var index = 0
        func value(_ name: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw BenchmarkError("\(name) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--quick":
                bodySize = 256 * 1024
                recipientCount = 5
            case "--size":
                let text = try value("--size")
                guard let size = Int(text), size > 0 else { throw BenchmarkError("--size: not a byte count: \(text)") }
                bodySize = size
            case "--recipients":
                let text = try value("--recipients")
                guard let count = Int(text), count > 0 else { throw BenchmarkError("--recipients: not a count: \(text)") }
                recipientCount = count
            case "--directory":
                directory = try value("--directory")
            default:
                throw BenchmarkError("copy: unknown option \(arguments[index])\n\(Self.help)")
            }
            index += 1
        }
    }

    /// Runs every measurement and hands each to `progress` as it finishes.
    func run(progress: (String, [Double]) -> Void) throws {
        let root = try Self.makeTemporaryDirectory(in: directory)
        defer { Self.removeTree(root) }
        for method in [DeliveryConfiguration.CopyMethod.copyBody, .hardLink] {
            progress("commit, \(method)", try commitTimes(method, root: root + "/commit-\(method)"))
        }
        for (name, times) in try rawCopyTimes(root: root + "/raw") {
            progress("raw \(name)", times)
        }
    }

    /// Seconds for one commit of a `bodySize` message to `recipientCount` users, per run.
    private func commitTimes(_ method: DeliveryConfiguration.CopyMethod, root: String) throws -> [Double] {
        var directory = DeliveryDirectory(localDomains: ["bench.test"])
        for index in 0..<recipientCount { directory.addUser("u\(index)@bench.test") }
        let agent = LocalDeliveryAgent(
            configuration: DeliveryConfiguration(mailRoot: root, hostname: "bench.test", copyMethod: method),
            directory: directory)
        let recipients = try (0..<recipientCount).map { index in
            guard let address = MailAddress("u\(index)@bench.test") else { throw BenchmarkError("bad address") }
            return address
        }
        let line = Array(String(repeating: "x", count: 1022).utf8) + [0x0D, 0x0A]
        let chunk = Array([[UInt8]](repeating: line, count: 64).joined())
        let trace = TraceInfo(
            sessionID: "bench", queueID: "BENCH", heloName: "client.bench.test", clientAddress: "192.0.2.7",
            protocolName: "ESMTP", hostname: "bench.test")
        return try Self.timedRuns {
            let transaction = try agent.beginTransaction(reversePath: nil, recipients: recipients, trace: trace)
            for _ in 0..<max(1, bodySize / chunk.count) { try transaction.append(chunk) }
            let start = MonotonicClock.now()
            let result = transaction.commit()
            let seconds = MonotonicClock.seconds(since: start)
            guard case .delivered(let names) = result.overall, names.count == recipientCount else {
                throw BenchmarkError("commit (\(method)) did not deliver \(recipientCount) copies: \(result.overall)")
            }
            return seconds
        }
    }

    /// Seconds to make `recipientCount` copies of one `bodySize` file with each raw method, per run.
    private func rawCopyTimes(root: String) throws -> [(String, [Double])] {
        guard mkdir(root, 0o700) == 0 else { throw BenchmarkError("mkdir \(root): errno \(errno)") }
        let source = root + "/source"
        let written = open(source, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard written >= 0 else { throw BenchmarkError("open \(source): errno \(errno)") }
        let block = [UInt8](repeating: 0x61, count: 64 * 1024)
        var remaining = bodySize
        while remaining > 0 {
            let count = min(remaining, block.count)
            guard block.withUnsafeBytes({ write(written, $0.baseAddress, count) }) == count else {
                close(written)
                throw BenchmarkError("write \(source): errno \(errno)")
            }
            remaining -= count
        }
        fsync(written)
        close(written)
        let input = open(source, O_RDONLY)
        guard input >= 0 else { throw BenchmarkError("open \(source): errno \(errno)") }
        defer { close(input) }

        var round = 0
        var results: [(String, [Double])] = []
        for method in [BodyCopier.Method.kernel, .readWrite] {
            results.append(("\(method)", try Self.timedRuns {
                round += 1
                let start = MonotonicClock.now()
                for index in 0..<recipientCount {
                    let path = root + "/\(method)-\(round)-\(index)"
                    let output = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
                    guard output >= 0 else { throw BenchmarkError("open \(path): errno \(errno)") }
                    defer { close(output) }
                    try BodyCopier.copy(from: input, offset: 0, count: bodySize, to: output, method: method)
                }
                let seconds = MonotonicClock.seconds(since: start)
                for index in 0..<recipientCount { unlink(root + "/\(method)-\(round)-\(index)") }
                return seconds
            }))
        }
        results.append(("link", try Self.timedRuns {
            round += 1
            let start = MonotonicClock.now()
            for index in 0..<recipientCount {
                guard link(source, root + "/link-\(round)-\(index)") == 0 else { throw BenchmarkError("link: errno \(errno)") }
            }
            let seconds = MonotonicClock.seconds(since: start)
            for index in 0..<recipientCount { unlink(root + "/link-\(round)-\(index)") }
            return seconds
        }))
        return results
    }

    /// One warm-up, then five timed runs; returns the run times sorted.
    private static func timedRuns(_ body: () throws -> Double) throws -> [Double] {
        _ = try body()
        return try (0..<5).map { _ in try body() }.sorted()
    }

    private static func makeTemporaryDirectory(in parent: String) throws -> String {
        var template = Array((parent + "/postoffice-copy-bench.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchmarkError("mkdtemp in \(parent): errno \(errno)") }
        return String(cString: made)
    }

    /// `rm -rf` without a shell: the benchmark's own tree only.
    private static func removeTree(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        if status.st_mode & S_IFMT == S_IFDIR, let handle = opendir(path) {
            var names: [String] = []
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(handle)
            for name in names { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
