// DirectorySyncer: the hook through which delivery makes its renames durable (fsync of each new/ directory,
// through the descriptor the rename used), so a server can batch the fsyncs of concurrent deliveries.

import PostOfficeCore
import PostOfficeMaildir

/// Makes directory entries durable. ``synchronize(directories:)`` must not return until every rename made
/// into those directories before the call is on stable storage; a batching implementation may cover several
/// callers with one fsync per directory (the same ``DirectoryReference/Identity``).
public protocol DirectorySyncer: Sendable {
    /// fsyncs each directory (through its open descriptor, valid for the duration of the call).
    func synchronize(directories: [DirectoryReference]) throws(SystemError)
}

/// fsyncs each directory at once, in the calling thread.
public struct ImmediateDirectorySyncer: DirectorySyncer {
    public init() {}

    public func synchronize(directories: [DirectoryReference]) throws(SystemError) {
        for directory in directories {
            try directory.sync()
        }
    }
}
