// MaildirLockTests: the flock-based POP3 mailbox lock: exclusive across sessions in one process and across processes.
import Foundation
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirLockTests {
    func freshMaildir() throws -> Maildir {
        let maildir = Maildir(path: try FixtureCopy.temporaryDirectory() + "/box")
        try maildir.create()
        return maildir
    }

    @Test func secondSessionInSameProcessIsRefused() throws {
        let maildir = try freshMaildir()
        let first = try MaildirLock.acquire(maildir: maildir)
        #expect(first.isHeld)
        #expect(throws: MaildirError.inUse(path: maildir.path + "/postoffice-pop3.lock")) {
            _ = try MaildirLock.acquire(maildir: maildir)
        }
        first.release()
        #expect(!first.isHeld)
        let second = try MaildirLock.acquire(maildir: maildir)
        #expect(second.isHeld)
        second.release()
        second.release()
    }

    @Test func releasedOnDeinit() throws {
        let maildir = try freshMaildir()
        do {
            let lock = try MaildirLock.acquire(maildir: maildir)
            #expect(lock.isHeld)
        }
        let again = try MaildirLock.acquire(maildir: maildir)
        #expect(again.isHeld)
    }

    @Test func otherMaildirsAreIndependent() throws {
        let one = try freshMaildir(), two = try freshMaildir()
        let a = try MaildirLock.acquire(maildir: one)
        let b = try MaildirLock.acquire(maildir: two)
        #expect(a.isHeld && b.isHeld)
    }

    static let flockAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/flock")

    /// Another process (util-linux flock(1)) holds the lock: refused; when it exits, the lock is free.
    @Test(.enabled(if: flockAvailable, "needs /usr/bin/flock (util-linux)"))
    func otherProcessHoldsTheLock() throws {
        let maildir = try freshMaildir()
        let lockPath = maildir.path + "/" + MaildirLock.defaultFileName
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        // flock(1) takes the lock, then prints and waits on stdin; closing stdin ends it.
        holder.arguments = ["-x", lockPath, "sh", "-c", "echo locked; read _"]
        let input = Pipe(), output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try holder.run()
        let line = output.fileHandleForReading.availableData
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("locked"))
        #expect(throws: MaildirError.inUse(path: lockPath)) { _ = try MaildirLock.acquire(maildir: maildir) }
        try input.fileHandleForWriting.close()
        holder.waitUntilExit()
        let lock = try MaildirLock.acquire(maildir: maildir)
        #expect(lock.isHeld)
    }
}
