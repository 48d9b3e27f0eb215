// MaildirTortureTests: SIGKILLs the maildir-torture executable at random points of its delivery loop and
// checks the durable write path: nothing partial in new/, every acknowledged ("ok") message present once.
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirTortureTests {
    /// `.build/debug/maildir-torture`, which `swift build --build-tests` (as .ci/run does) produces.
    static let executable: String? = {
        let root = FixtureCopy.repositoryRoot().path
        let candidates = [root + "/.build/debug/maildir-torture"]
            + ((try? FileManager.default.contentsOfDirectory(atPath: root + "/.build")) ?? []).map { root + "/.build/\($0)/debug/maildir-torture" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static var full: Bool { ProcessInfo.processInfo.environment["POSTOFFICE_FULL_TORTURE"] == "1" }

    static func fnv1a(_ bytes: some Sequence<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Runs the torturer once, kills it after `killAfter` acknowledged lines (plus a short random delay, so
    /// the kill lands anywhere in the next delivery), and returns every `ok` line it wrote.
    func runOnce(executable: String, maildir: Maildir, count: Int, seed: UInt64, killAfter: Int, delayMicroseconds: UInt32) throws -> [(String, String)] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [maildir.path, String(count), String(seed)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var buffer = Data()
        var lineCount = 0
        let reader = output.fileHandleForReading
        while lineCount < killAfter {
            let chunk = reader.availableData
            if chunk.isEmpty { break }  // the process finished
            buffer.append(chunk)
            lineCount = buffer.filter { $0 == 10 }.count
        }
        usleep(delayMicroseconds)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        buffer.append(reader.readDataToEndOfFile())
        process.waitUntilExit()
        var acknowledged: [(String, String)] = []
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ")
            // A torn last line cannot happen (one write(2) per line), but would show up here as a mismatch.
            #expect(parts.count == 3 && parts[0] == "ok", "unexpected output: \(line)")
            if parts.count == 3 { acknowledged.append((String(parts[1]), String(parts[2]))) }
        }
        return acknowledged
    }

    @Test(.enabled(if: executable != nil, "maildir-torture not built: run `swift build --build-tests` (or `swift build --product maildir-torture`) first"))
    func killedDeliveriesLeaveNoPartialMessages() throws {
        let executable = try #require(Self.executable)
        let (kills, deliveries) = Self.full ? (50, 1000) : (10, 100)
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/box")
        try maildir.create()
        let random = SeededRandomSource(seed: 20_261_123)
        var acknowledged: [String: String] = [:]
        for round in 0..<kills {
            let killAfter = Int(random.next() % UInt64(deliveries))
            let delay = UInt32(random.next() % 3000)
            for (name, checksum) in try runOnce(
                executable: executable, maildir: maildir, count: deliveries, seed: UInt64(round + 1),
                killAfter: killAfter, delayMicroseconds: delay)
            {
                #expect(acknowledged[name] == nil, "name acknowledged twice: \(name)")
                acknowledged[name] = checksum
            }
        }

        // Every file in new/ is complete: its S= is its size and its last line checks the rest.
        let scan = try MaildirScanner(maildir: maildir).scan()
        #expect(scan.skippedCount == 0)
        #expect(scan.messages.allSatisfy { $0.directory == .new })
        var seenBases = Set<String>()
        for message in scan.messages {
            #expect(seenBases.insert(message.baseName).inserted, "base name twice: \(message.baseName)")
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: message.path)))
            #expect(message.filename.size == bytes.count, "partial file \(message.name)")
            #expect(message.filename.virtualSize == bytes.count + bytes.filter { $0 == 10 }.count)
            let body = bytes.dropLast()  // the final LF
            let lastLineStart = body.lastIndex(of: 10).map { $0 + 1 } ?? 0
            let lastLine = String(decoding: bytes[lastLineStart..<body.endIndex], as: UTF8.self)
            #expect(lastLine == "X-Torture-End: " + Self.fnv1a(bytes[..<lastLineStart]), "corrupt file \(message.name)")
        }
        // Every acknowledged delivery is there exactly once, with its content.
        let byName = Dictionary(grouping: scan.messages, by: \.name)
        for (name, checksum) in acknowledged {
            let found = byName[name] ?? []
            #expect(found.count == 1, "acknowledged message missing: \(name)")
            if let message = found.first {
                #expect(Self.fnv1a(try Data(contentsOf: URL(fileURLWithPath: message.path))) == checksum)
            }
        }
        #expect(scan.messages.count >= acknowledged.count)
        // Committed but killed before its "ok" line: at most one per kill.
        #expect(scan.messages.count - acknowledged.count <= kills)

        // tmp/ orphans (killed mid-draft) are allowed, at most one per kill, and the 36-hour cleaner removes them.
        let orphans = try FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath)
        #expect(orphans.count <= kills)
        // Each kill interrupts at most one delivery: it is either a tmp/ orphan or committed without "ok".
        #expect(orphans.count + (scan.messages.count - acknowledged.count) <= kills)
        let clock = ManualClock(SystemClock().now())
        clock.advance(seconds: Maildir.temporaryFileLifetime + 60)
        #expect(try maildir.removeStaleTemporaryFiles(clock: clock).count == orphans.count)
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath).isEmpty)
        print("maildir-torture: \(kills) kills, \(acknowledged.count) acknowledged, \(scan.messages.count) in new/, \(orphans.count) tmp orphans")
    }
}
