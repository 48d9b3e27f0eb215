// MaildirTemporaryFilesTests: tmp/ cleaning by age (36 hours) with a manual clock, on the Postfix fixture.
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirTemporaryFilesTests {
    @Test func removesOnlyFilesOlderThan36Hours() throws {
        let maildir = try FixtureCopy.maildir("postfix-virtual")
        let tmpFiles = try FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath).sorted()
        #expect(tmpFiles.count == 2)
        let freshName = try #require(tmpFiles.first { $0.contains("fresh") })
        let fresh = try #require(try FileManager.default.attributesOfItem(atPath: maildir.tmpPath + "/" + freshName)[.modificationDate] as? Date)
        let clock = ManualClock(MailTime(seconds: Int(fresh.timeIntervalSince1970)))
        // A directory in tmp/ is never removed.
        try FileManager.default.createDirectory(atPath: maildir.tmpPath + "/subdir", withIntermediateDirectories: false)

        #expect(try maildir.removeStaleTemporaryFiles(clock: clock) == ["1600000000.M1P99.stale-writer"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath).sorted() == [freshName, "subdir"])

        clock.advance(seconds: Maildir.temporaryFileLifetime - 10)
        #expect(try maildir.removeStaleTemporaryFiles(clock: clock) == [])
        clock.advance(seconds: 20)
        #expect(try maildir.removeStaleTemporaryFiles(clock: clock) == [freshName])
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir.tmpPath) == ["subdir"])
        // new/ and cur/ are untouched.
        #expect(try MaildirScanner(maildir: maildir).scan().messages.count == 5)
    }
}
