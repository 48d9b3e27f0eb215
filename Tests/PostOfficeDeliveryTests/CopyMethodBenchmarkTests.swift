// CopyMethodBenchmarkTests: measures the ways of giving several recipients a copy — hard links, kernel copies
// (copy_file_range) and read/write — and prints the numbers. No timing is asserted; the copies are checked.
// Set POSTOFFICE_BENCHMARK=1 for the larger run (8 MiB × 20 recipients).

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite(.serialized) struct CopyMethodBenchmarkTests {
    static let large = ProcessInfo.processInfo.environment["POSTOFFICE_BENCHMARK"] != nil
    static let bodySize = large ? 8 * 1024 * 1024 : 256 * 1024
    static let recipientCount = large ? 20 : 5

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        var start = timespec()
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        try body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    }

    static func directory() -> DeliveryDirectory {
        var directory = DeliveryDirectory(localDomains: ["bench.test"])
        for index in 0..<recipientCount { directory.addUser("u\(index)@bench.test") }
        return directory
    }

    @Test(arguments: [DeliveryConfiguration.CopyMethod.copyBody, .hardLink])
    func commitTimePerCopyMethod(_ method: DeliveryConfiguration.CopyMethod) throws {
        let fixture = DeliveryFixture(directory: Self.directory(), copyMethod: method)
        let recipients = (0..<Self.recipientCount).map { fixture.address("u\($0)@bench.test") }
        let tx = try fixture.agent.beginTransaction(reversePath: nil, recipients: recipients, trace: fixture.trace())
        let line = Array(String(repeating: "x", count: 1022).utf8) + [0x0D, 0x0A]
        let chunk = Array([[UInt8]](repeating: line, count: 64).joined())
        for _ in 0..<(Self.bodySize / chunk.count) { try tx.append(chunk) }
        var result: DeliveryResult?
        let elapsed = Self.seconds { result = tx.commit() }
        guard case .delivered(let names) = result?.overall else {
            Issue.record("not delivered")
            return
        }
        #expect(names.count == Self.recipientCount)
        print("benchmark commit \(method) body=\(Self.bodySize) recipients=\(Self.recipientCount): "
            + "\(String(format: "%.1f", elapsed * 1000)) ms (fsyncs included)")
    }

    @Test func rawCopyKernelVersusReadWriteVersusLink() throws {
        let root = makeTemporaryDirectory("bench")
        let source = root + "/source"
        _ = FileManager.default.createFile(atPath: source, contents: Data(repeating: 0x61, count: Self.bodySize))
        let input = open(source, O_RDONLY)
        defer { close(input) }
        var timings: [String: Double] = [:]
        for method in [BodyCopier.Method.kernel, .readWrite] {
            timings["\(method)"] = try Self.seconds {
                for index in 0..<Self.recipientCount {
                    let path = root + "/\(method)-\(index)"
                    let output = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
                    defer { close(output) }
                    try BodyCopier.copy(from: input, offset: 0, count: Self.bodySize, to: output, method: method)
                }
            }
            for index in 0..<Self.recipientCount {
                #expect(contents(of: root + "/\(method)-\(index)").count == Self.bodySize)
            }
        }
        timings["link"] = Self.seconds {
            for index in 0..<Self.recipientCount { _ = link(source, root + "/link-\(index)") }
        }
        #expect(files(in: root).filter { $0.hasPrefix("link-") }.count == Self.recipientCount)
        for (name, value) in timings.sorted(by: { $0.key < $1.key }) {
            print("benchmark raw \(name) body=\(Self.bodySize) copies=\(Self.recipientCount): \(String(format: "%.2f", value * 1000)) ms")
        }
    }

    @Test func copyFromAnOffsetIsExact() throws {
        let root = makeTemporaryDirectory("copy")
        let sourcePath = root + "/s"
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        _ = FileManager.default.createFile(atPath: sourcePath, contents: Data(data))
        let input = open(sourcePath, O_RDONLY)
        defer { close(input) }
        for method in [BodyCopier.Method.kernel, .readWrite] {
            let path = root + "/\(method)"
            let output = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            _ = "head".utf8.withContiguousStorageIfAvailable { write(output, $0.baseAddress, 4) }
            try BodyCopier.copy(from: input, offset: 12_345, count: 70_000, to: output, method: method)
            close(output)
            #expect(contents(of: path) == Array("head".utf8) + Array(data[12_345..<82_345]))
        }
    }
}
