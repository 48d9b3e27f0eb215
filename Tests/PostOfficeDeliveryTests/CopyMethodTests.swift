// CopyMethodTests: the ways of giving several recipients a copy — each copy method delivers one whole copy
// per recipient, and the raw copies (kernel copy_file_range, read/write) and hard links are byte-exact.
// Nothing here is timed: the measurements are `postoffice-bench copy` (see docs/performance.md).

import Foundation
import Testing
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

@Suite struct CopyMethodTests {
    static let bodySize = 256 * 1024
    /// More than DeliveryTransaction.unsyncedWindow, so copies are fsync'd both inside the window and after it.
    static let recipientCount = 11

    static func directory() -> DeliveryDirectory {
        var directory = DeliveryDirectory(localDomains: ["bench.test"])
        for index in 0..<recipientCount { directory.addUser("u\(index)@bench.test") }
        return directory
    }

    @Test func theFanOutOutgrowsTheWindowOfUnsyncedCopies() {
        #expect(Self.recipientCount > DeliveryTransaction.unsyncedWindow + 1)
    }

    @Test(arguments: [DeliveryConfiguration.CopyMethod.copyBody, .hardLink])
    func everyRecipientGetsTheWholeMessage(_ method: DeliveryConfiguration.CopyMethod) throws {
        let fixture = DeliveryFixture(directory: Self.directory(), copyMethod: method)
        let recipients = (0..<Self.recipientCount).map { fixture.address("u\($0)@bench.test") }
        let tx = try fixture.agent.beginTransaction(reversePath: nil, recipients: recipients, trace: fixture.trace())
        let line = Array(String(repeating: "x", count: 1022).utf8) + [0x0D, 0x0A]
        let chunk = Array([[UInt8]](repeating: line, count: 64).joined())
        for _ in 0..<(Self.bodySize / chunk.count) { try tx.append(chunk) }
        let result = tx.commit()
        guard case .delivered(let names) = result.overall else {
            Issue.record("not delivered: \(result.overall)")
            return
        }
        #expect(names.count == Self.recipientCount)
        // Stored with LF line endings: every copy ends with the whole body.
        let storedLine = Array(String(repeating: "x", count: 1022).utf8) + [0x0A]
        let body = Array([[UInt8]](repeating: storedLine, count: Self.bodySize / chunk.count * 64).joined())
        for index in 0..<Self.recipientCount {
            let stored = fixture.storedMessages(fixture.maildir("u\(index)", domain: "bench.test"))
            try #require(stored.count == 1, "u\(index)")
            #expect(stored[0].bytes.count > body.count)
            #expect(Array(stored[0].bytes.suffix(body.count)) == body, "u\(index)")
        }
    }

    @Test func rawCopiesAndLinksAreWhole() throws {
        let root = makeTemporaryDirectory("copy")
        let source = root + "/source"
        let data = (0..<Self.bodySize).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        _ = FileManager.default.createFile(atPath: source, contents: Data(data))
        let input = open(source, O_RDONLY)
        defer { close(input) }
        for method in [BodyCopier.Method.kernel, .readWrite] {
            for index in 0..<Self.recipientCount {
                let path = root + "/\(method)-\(index)"
                let output = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
                try #require(output >= 0)
                defer { close(output) }
                try BodyCopier.copy(from: input, offset: 0, count: Self.bodySize, to: output, method: method)
            }
            for index in 0..<Self.recipientCount {
                #expect(contents(of: root + "/\(method)-\(index)") == data, "\(method) copy \(index)")
            }
        }
        for index in 0..<Self.recipientCount { #expect(link(source, root + "/link-\(index)") == 0) }
        #expect(files(in: root).filter { $0.hasPrefix("link-") }.count == Self.recipientCount)
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
