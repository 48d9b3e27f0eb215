// GroupCommitDirectorySyncerTests: concurrent callers share fsyncs, none returns before an fsync that
// started after its call, and a failed fsync reaches the callers it was meant to cover.

import Dispatch
import Glibc
import PostOfficeCore
import PostOfficeMaildir
import Testing
@testable import PostOfficeDelivery

@Suite struct GroupCommitDirectorySyncerTests {
    /// Records each fsync's start and end against a global sequence of events.
    final class Recorder: @unchecked Sendable {
        let lock = Lock()
        var sequence = 0
        var syncs: [(start: Int, end: Int)] = []
        var paths: [String] = []
        var windows: [(call: Int, returned: Int)] = []
        var syncsByPath: [String: [(start: Int, end: Int)]] = [:]
        var pathWindows: [(paths: [String], call: Int, returned: Int)] = []

        func tick() -> Int { lock.withLock { sequence += 1; return sequence } }
    }

    /// A directory that is never opened: the injected fsyncs do not touch the disk.
    static func directory(_ path: String, inode: UInt64 = 1) -> DirectoryReference {
        DirectoryReference(path: path, descriptor: -1, identity: .init(device: 1, inode: inode))
    }

    @Test func everyCallerIsCoveredByAnFsyncThatStartedAfterItsCall() throws {
        let recorder = Recorder()
        let syncer = GroupCommitDirectorySyncer { _ throws(SystemError) in
            let start = recorder.tick()
            usleep(2_000)
            let end = recorder.tick()
            recorder.lock.withLock { recorder.syncs.append((start, end)) }
        }
        let callers = 64
        DispatchQueue.concurrentPerform(iterations: callers) { _ in
            let call = recorder.tick()
            try? syncer.synchronize(directories: [Self.directory("/maildir/new")])
            let returned = recorder.tick()
            recorder.lock.withLock { recorder.windows.append((call, returned)) }
        }
        let windows = recorder.lock.withLock { recorder.windows }
        #expect(windows.count == callers)
        let syncs = recorder.lock.withLock { recorder.syncs }
        for window in windows {
            let covered = syncs.contains { $0.start > window.call && $0.end < window.returned }
            #expect(covered, "caller at \(window.call) returned at \(window.returned) without a covering fsync")
        }
    }

    @Test func callersArrivingDuringAnFsyncShareTheNextOne() throws {
        let recorder = Recorder()
        let gate = DispatchSemaphore(value: 0)
        let syncer = GroupCommitDirectorySyncer { _ throws(SystemError) in
            let first = recorder.lock.withLock { recorder.paths.isEmpty }
            recorder.lock.withLock { recorder.paths.append("sync") }
            if first { gate.wait() }  // hold the first fsync until the others are queued behind it
        }
        let group = DispatchGroup()
        let directory = Self.directory("/maildir/new")
        DispatchQueue.global().async(group: group) { try? syncer.synchronize(directories: [directory]) }
        while syncer.requestCount(for: directory) < 1 { usleep(1_000) }
        let followers = 10
        for _ in 0..<followers {
            DispatchQueue.global().async(group: group) { try? syncer.synchronize(directories: [directory]) }
        }
        while syncer.requestCount(for: directory) < UInt64(1 + followers) { usleep(1_000) }
        gate.signal()
        group.wait()
        // One fsync for the first caller, one shared by the ten that arrived while it ran.
        #expect(recorder.lock.withLock { recorder.paths.count } == 2)
    }

    @Test func aFailedFsyncIsReportedToItsCallers() {
        let syncer = GroupCommitDirectorySyncer { directory throws(SystemError) in
            throw SystemError("fsync", errno: 5, detail: directory.path)
        }
        #expect(throws: SystemError.self) { try syncer.synchronize(directories: [Self.directory("/x/new")]) }
        #expect(throws: SystemError.self) { try syncer.synchronize(directories: [Self.directory("/x/new")]) }
    }

    @Test func separateDirectoriesEachGetTheirOwnFsync() throws {
        let recorder = Recorder()
        let syncer = GroupCommitDirectorySyncer { directory throws(SystemError) in
            _ = recorder.tick()
            recorder.lock.withLock { recorder.paths.append(directory.path) }
        }
        try syncer.synchronize(directories: [Self.directory("/a/new", inode: 1), Self.directory("/b/new", inode: 2)])
        #expect(recorder.lock.withLock { recorder.paths.sorted() } == ["/a/new", "/b/new"])
    }

    /// Callers with several directories each (a delivery to several Maildirs): every directory of every
    /// caller is covered by an fsync *of that directory* that started after the call and ended before the return,
    /// whether the caller led that round or waited for another caller's.
    @Test func everyDirectoryOfEveryCallerIsCovered() throws {
        let recorder = Recorder()
        let syncer = GroupCommitDirectorySyncer { directory throws(SystemError) in
            let start = recorder.tick()
            usleep(500)
            let end = recorder.tick()
            recorder.lock.withLock { recorder.syncsByPath[directory.path, default: []].append((start, end)) }
        }
        let directories = (1...5).map { Self.directory("/m\($0)/new", inode: UInt64($0)) }
        let callers = 48
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            // Each caller its own subset (one to five directories, in differing order).
            let chosen = directories.indices.filter { (caller >> $0) & 1 == 1 || $0 == caller % 5 }
                .map { directories[$0] }
            let ordered = caller % 2 == 0 ? chosen : chosen.reversed()
            let call = recorder.tick()
            try? syncer.synchronize(directories: ordered)
            let returned = recorder.tick()
            recorder.lock.withLock { recorder.pathWindows.append((ordered.map(\.path), call, returned)) }
        }
        let windows = recorder.lock.withLock { recorder.pathWindows }
        #expect(windows.count == callers)
        let syncs = recorder.lock.withLock { recorder.syncsByPath }
        for window in windows {
            for path in window.paths {
                let covered = syncs[path, default: []].contains { $0.start > window.call && $0.end < window.returned }
                #expect(covered, "\(path) of the caller at \(window.call) not covered by an fsync in its window")
            }
        }
        // Never more fsyncs than directory requests (fewer when rounds were shared).
        let requests = windows.reduce(0) { $0 + $1.paths.count }
        #expect(syncs.values.reduce(0) { $0 + $1.count } <= requests)
    }

    /// One directory of several fails: the caller gets the error, and the others were still fsync'd (the
    /// rollback that follows unlinks the copies; their directories' state must not be left half-synced).
    @Test func aFailureInOneOfSeveralDirectoriesReachesTheCaller() {
        let recorder = Recorder()
        let syncer = GroupCommitDirectorySyncer { directory throws(SystemError) in
            recorder.lock.withLock { recorder.paths.append(directory.path) }
            if directory.path == "/b/new" { throw SystemError("fsync", errno: EIO, detail: directory.path) }
        }
        let directories = [
            Self.directory("/a/new", inode: 1), Self.directory("/b/new", inode: 2), Self.directory("/c/new", inode: 3),
        ]
        #expect(throws: SystemError("fsync", errno: EIO, detail: "/b/new")) {
            try syncer.synchronize(directories: directories)
        }
        #expect(recorder.lock.withLock { recorder.paths.sorted() } == ["/a/new", "/b/new", "/c/new"])
        // A later caller of a and c alone is not handed b's failure.
        #expect(throws: Never.self) {
            try syncer.synchronize(directories: [directories[0], directories[2]])
        }
    }
}
