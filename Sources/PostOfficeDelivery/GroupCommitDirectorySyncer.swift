// GroupCommitDirectorySyncer: lets concurrent deliveries into the same new/ share one directory fsync.
// A caller waits for an fsync that *started* after its own rename; whoever finds none running starts one.
// Directories are told apart by device and inode, so callers sharing a directory share its fsync.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeMaildir

/// Group commit for directory fsyncs.
///
/// Each directory has a request counter and a completed counter. A caller takes the next request number
/// (its rename is already done), then waits until an fsync that began after that moment has finished.
/// If no fsync of the directory is running, the caller runs one itself on behalf of every request made so
/// far, through its own descriptor on the directory. So no caller returns before an fsync that covers its rename, and under load one fsync serves many
/// messages. An error reaches every caller whose request the failed fsync was meant to cover.
public final class GroupCommitDirectorySyncer: DirectorySyncer, @unchecked Sendable {
    private struct State {
        var requested: UInt64 = 0
        var completed: UInt64 = 0
        var isSyncing = false
        /// The last failure and the request number up to which it applies.
        var failure: (upTo: UInt64, error: SystemError)?
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var states: [DirectoryReference.Identity: State] = [:]
    private let sync: @Sendable (DirectoryReference) throws(SystemError) -> Void

    /// - Parameter sync: the fsync itself (injectable for tests); default ``DirectoryReference/sync()``.
    public init(sync: @escaping @Sendable (DirectoryReference) throws(SystemError) -> Void = { directory throws(SystemError) in
        try directory.sync()
    }) {
        self.sync = sync
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Requests made so far for `directory` that have not been forgotten (for tests).
    func requestCount(for directory: DirectoryReference) -> UInt64 {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return states[directory.identity]?.requested ?? 0
    }

    /// Waits until every directory in `directories` has been fsync'd by a round that started after this call.
    /// The tickets for all of them are taken at once, and a caller that finds several of its directories
    /// idle leads their rounds back to back, so a delivery into five Maildirs waits once for what it could not
    /// lead instead of five times in a row (every wait is a sleep and a wake-up).
    public func synchronize(directories: [DirectoryReference]) throws(SystemError) {
        if directories.count == 1 {
            try synchronize(directories[0])
            return
        }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var tickets: [(reference: DirectoryReference, ticket: UInt64)] = []
        tickets.reserveCapacity(directories.count)
        for reference in directories {
            var state = states[reference.identity, default: State()]
            state.requested += 1
            tickets.append((reference, state.requested))
            states[reference.identity] = state
        }
        var firstError: SystemError?
        var rounds: [(reference: DirectoryReference, target: UInt64)] = []
        while true {
            var isWaiting = false
            rounds.removeAll(keepingCapacity: true)
            for (reference, ticket) in tickets {
                // No entry: covered by a successful fsync and forgotten.
                guard let current = states[reference.identity] else { continue }
                if current.completed >= ticket {
                    if firstError == nil, let failure = current.failure, failure.upTo >= ticket { firstError = failure.error }
                    continue
                }
                isWaiting = true
                if !current.isSyncing {
                    states[reference.identity]!.isSyncing = true
                    rounds.append((reference, current.requested))
                }
            }
            if !isWaiting { break }
            if rounds.isEmpty {
                pthread_cond_wait(condition, mutex)
                continue
            }
            pthread_mutex_unlock(mutex)
            var errors: [SystemError?] = []
            for round in rounds {
                do {
                    try sync(round.reference)
                    errors.append(nil)
                } catch let error {
                    errors.append(error)
                }
            }
            pthread_mutex_lock(mutex)
            for (index, round) in rounds.enumerated() {
                finish(round.reference.identity, target: round.target, error: errors[index])
            }
            pthread_cond_broadcast(condition)
        }
        if let firstError { throw firstError }
    }

    /// Records the end of a round that covered requests up to `target` (called with the mutex held).
    private func finish(_ directory: DirectoryReference.Identity, target: UInt64, error: SystemError?) {
        var done = states[directory]!
        done.isSyncing = false
        done.completed = max(done.completed, target)
        if let error { done.failure = (target, error) }
        if done.completed == done.requested && done.failure == nil {
            // Idle directory: forget it, so the table does not grow with every mailbox ever used.
            // (Entries that saw a failure are kept so every caller it concerns can still read it.)
            states[directory] = nil
        } else {
            states[directory] = done
        }
    }

    private func synchronize(_ reference: DirectoryReference) throws(SystemError) {
        let directory = reference.identity
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var state = states[directory, default: State()]
        state.requested += 1
        let ticket = state.requested
        states[directory] = state
        while true {
            // No entry: every request so far was covered by a successful fsync and the entry was dropped.
            guard let current = states[directory] else { return }
            if current.completed >= ticket {
                if let failure = current.failure, failure.upTo >= ticket { throw failure.error }
                return
            }
            if current.isSyncing {
                pthread_cond_wait(condition, mutex)
                continue
            }
            // Lead a round: it covers every request made up to now (their renames precede this fsync).
            let target = current.requested
            states[directory]!.isSyncing = true
            pthread_mutex_unlock(mutex)
            var error: SystemError?
            do {
                try sync(reference)
            } catch let e {
                error = e
            }
            pthread_mutex_lock(mutex)
            finish(directory, target: target, error: error)
            pthread_cond_broadcast(condition)
            if let error, ticket <= target { throw error }
            if ticket <= target { return }
        }
    }
}
