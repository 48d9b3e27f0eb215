// DirectorySyncer: the hook through which delivery makes its renames durable (fsync of each new/ directory),
// so a server can later batch the fsyncs of concurrent deliveries (group commit).

import PostOfficeCore
import PostOfficeMaildir

/// Makes directory entries durable. ``synchronize(directories:)`` must not return until every rename made
/// into those directories before the call is on stable storage; a batching implementation may cover several
/// callers with one fsync per directory.
public protocol DirectorySyncer: Sendable {
    func synchronize(directories: [String]) throws(SystemError)
}

/// fsyncs each directory at once, in the calling thread.
public struct ImmediateDirectorySyncer: DirectorySyncer {
    public init() {}

    public func synchronize(directories: [String]) throws(SystemError) {
        for directory in directories {
            try Maildir.syncDirectory(directory)
        }
    }
}
