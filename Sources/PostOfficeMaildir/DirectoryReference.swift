// DirectoryReference: an open directory as delivery publishes into it and fsyncs it — the descriptor (owned
// by a MaildirHandle, borrowed here), the path it was opened at (for logs and errors only) and its
// device/inode identity, so callers that share a directory can share one fsync whatever path they came by.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// A borrowed descriptor on a directory, with the path it was opened at and the directory's identity.
///
/// The descriptor stays valid only while its owner (a ``MaildirHandle``) is alive. Operations go through
/// ``descriptor``, never ``path``: the path may have been replaced (by a symbolic link, say) since.
public struct DirectoryReference: Sendable, Hashable {
    /// Which directory this is: device and inode numbers, stable however it is reached.
    public struct Identity: Sendable, Hashable {
        public var device: UInt64
        public var inode: UInt64

        public init(device: UInt64, inode: UInt64) {
            self.device = device
            self.inode = inode
        }
    }

    /// The path the directory was opened at, for messages.
    public let path: String
    /// The open descriptor (not owned).
    public let descriptor: Int32
    /// Device and inode of the open directory.
    public let identity: Identity

    /// A reference with a known identity (tests and syncers that never touch the disk use this).
    public init(path: String, descriptor: Int32, identity: Identity) {
        self.path = path
        self.descriptor = descriptor
        self.identity = identity
    }

    /// A reference to the open directory `descriptor`; its identity is read with `fstat`.
    public init(path: String, descriptor: Int32) throws(SystemError) {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { throw SystemError("fstat", errno: errno, detail: path) }
        self.init(path: path, descriptor: descriptor, identity: Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)))
    }

    /// fsyncs the directory through its descriptor, making entries renamed or linked into it durable.
    public func sync() throws(SystemError) {
        let fd = descriptor
        _ = try SystemCall.retrying("fsync", detail: path) { fsync(fd) }
    }
}
