// QueueSpareFiles: the delivered messages' files kept in `spare/` for the next drafts to overwrite, so a
// busy queue stops creating and deleting an inode per message (ext4 without a journal scans past every
// inode freed in the last 30 s on each create: that scan grew with the load and dominated the CPU).

import PostOfficeCore

/// The spare files this process put in `spare/`, in memory (a file there from an earlier run is removed
/// when the store opens). A spare may be reused only once the rename that took it out of `messages/` is
/// durable — once an fsync of `messages/` that started after that rename has returned — so after a crash a
/// reused file is never still named in `messages/` (its old name would show the new draft's bytes).
/// Thread-safe.
final class QueueSpareFiles: @unchecked Sendable {
    /// At most this many spares are kept; beyond it a delivered message's file is unlinked as before.
    static let capacity = 64

    private struct State {
        /// Spare names with the count of `messages/` fsyncs started when each was renamed there.
        var spares: [(name: String, syncsStarted: Int)] = []
        var syncsStarted = 0
        /// The highest start number among the `messages/` fsyncs that have returned.
        var latestSyncFinished = 0
    }

    private let lock = Lock()
    /// Guarded by `lock`.
    private var state = State()

    /// True when there is room for one more spare (the caller then renames the file and calls ``add(_:)``).
    var hasRoom: Bool { lock.withLock { state.spares.count < Self.capacity } }

    /// Records a file just renamed into `spare/` as `name`.
    func add(_ name: String) {
        lock.withLock { state.spares.append((name, state.syncsStarted)) }
    }

    /// Takes the oldest spare whose removal from `messages/` is durable, if any.
    func take() -> String? {
        lock.withLock {
            guard let first = state.spares.first, first.syncsStarted < state.latestSyncFinished else { return nil }
            state.spares.removeFirst()
            return first.name
        }
    }

    /// Call right before an fsync of `messages/`; pass the result to ``syncFinished(_:)`` once it succeeded.
    func syncStarting() -> Int {
        lock.withLock {
            state.syncsStarted += 1
            return state.syncsStarted
        }
    }

    func syncFinished(_ number: Int) {
        lock.withLock { state.latestSyncFinished = max(state.latestSyncFinished, number) }
    }
}
