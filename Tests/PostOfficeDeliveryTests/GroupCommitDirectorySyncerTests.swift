// GroupCommitDirectorySyncerTests: concurrent callers share fsyncs, none returns before an fsync that
// started after its call, and a failed fsync reaches the callers it was meant to cover.

import Dispatch
import Glibc
import PostOfficeCore
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

        func tick() -> Int { lock.withLock { sequence += 1; return sequence } }
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
            try? syncer.synchronize(directories: ["/maildir/new"])
            let returned = recorder.tick()
            recorder.lock.withLock { recorder.windows.append((call, returned)) }
        }
        let windows = recorder.lock.withLock { recorder.windows }
        #expect(windows.count == callers)
        let syncs = recorder.lock.withLock { recorder.syncs }
        #expect(syncs.count < callers, "group commit shares fsyncs")
        for window in windows {
            let covered = syncs.contains { $0.start > window.call && $0.end < window.returned }
            #expect(covered, "caller at \(window.call) returned at \(window.returned) without a covering fsync")
        }
    }

    @Test func aFailedFsyncIsReportedToItsCallers() {
        let syncer = GroupCommitDirectorySyncer { path throws(SystemError) in
            throw SystemError("fsync", errno: 5, detail: path)
        }
        #expect(throws: SystemError.self) { try syncer.synchronize(directories: ["/x/new"]) }
        #expect(throws: SystemError.self) { try syncer.synchronize(directories: ["/x/new"]) }
    }

    @Test func separateDirectoriesEachGetTheirOwnFsync() throws {
        let recorder = Recorder()
        let syncer = GroupCommitDirectorySyncer { path throws(SystemError) in
            _ = recorder.tick()
            recorder.lock.withLock { recorder.paths.append(path) }
        }
        try syncer.synchronize(directories: ["/a/new", "/b/new"])
        #expect(recorder.lock.withLock { recorder.paths.sorted() } == ["/a/new", "/b/new"])
    }
}
