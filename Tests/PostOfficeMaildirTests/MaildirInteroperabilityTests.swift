// MaildirInteroperabilityTests: PostOffice-written messages read and flagged by mblaze, and back (skipped without mblaze).
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirInteroperabilityTests {
    static let mblaze = ["/usr/bin/mflag", "/usr/bin/mlist"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(tool) failed")
        return String(decoding: data, as: UTF8.self)
    }

    @Test(.enabled(if: mblaze, "needs mblaze (mlist, mflag)"))
    func mblazeReadsAndFlagsOurMessages() throws {
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/box")
        try maildir.create()
        let names = MaildirUniqueNameGenerator(hostname: "interop.test", processID: 9, clock: SystemClock())
        for index in 1...3 {
            let draft = try MaildirDraft(maildir: maildir, baseName: names.next())
            try draft.write(Array("Subject: interop \(index)\n\nbody\n".utf8))
            try draft.commit(virtualSize: nil)
        }
        var messages = try MaildirScanner(maildir: maildir).scan().messages
        #expect(messages.count == 3)
        // We mark the first read (new/ -> cur/ with :2,S); mblaze lists all three.
        let seen = try messages[0].addingFlags("S")
        let listed = try run("/usr/bin/mlist", [maildir.path]).split(separator: "\n").map(String.init)
        #expect(listed.count == 3)
        #expect(listed.contains(seen.path))
        // mblaze adds R to our name; we parse its rename.
        _ = try run("/usr/bin/mflag", ["-R", seen.path])
        messages = try MaildirScanner(maildir: maildir).scan().messages
        let replied = try #require(messages.first { $0.baseName == seen.baseName })
        #expect(replied.flags == "RS")
        #expect(replied.directory == .cur)
        #expect(replied.filename.size == seen.filename.size)
    }
}
