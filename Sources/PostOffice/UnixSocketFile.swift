// UnixSocketFile: the file of a listening Unix socket (an LMTP listener, the control socket). A stale file left
// by a server that died is replaced before bind — never a live server's socket or a file that is not a socket;
// mode and owner are set between bind and listen, so nobody connects through a wider mode; and at close the
// file is removed only while it is still the one this socket made.

import CLinuxEvents
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

/// A bound Unix socket's path and the identity (device, inode) of the file bind made.
struct UnixSocketFile {
    let path: String
    private let device: UInt64
    private let inode: UInt64

    /// A socket file left at `path` by a server that died is removed; a live server's socket (one that accepts
    /// a connection) and anything that is not a socket are left alone and refused (EADDRINUSE, EEXIST), so a
    /// second instance or a typo cannot take over or delete someone else's file.
    static func removeStale(at path: String) throws(SystemError) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw SystemError("bind", errno: EEXIST, detail: "\(path) exists and is not a socket; remove it or choose another path")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw SystemError("socket", errno: errno, detail: path) }
        defer { close(probe) }
        let connected = SocketAddress(unixPath: path).withSockAddr { connect(probe, $0, $1) }
        let code = errno
        if connected == 0 {
            throw SystemError("bind", errno: EADDRINUSE, detail: "\(path): another server is listening on this socket")
        }
        guard code == ECONNREFUSED else { throw SystemError("connect", errno: code, detail: path) }
        if unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink", errno: errno, detail: path) }
    }

    /// Gives the socket just bound at `path` its `mode` (and `owner`, when given: a server that drops root) and
    /// records which file it is. Call before listen(): until then nobody can connect, so there is no window.
    init(bound path: String, mode: mode_t, owner: (uid: uid_t, gid: gid_t)? = nil) throws(SystemError) {
        var status = stat()
        guard chmod(path, mode) == 0 else { throw SystemError("chmod", errno: errno, detail: path) }
        if let owner { _ = chown(path, owner.uid, owner.gid) }
        guard lstat(path, &status) == 0 else { throw SystemError("lstat", errno: errno, detail: path) }
        self.path = path
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }

    /// Removes the file if it is still the one bound (not one another process has put in its place since).
    func remove() {
        var status = stat()
        guard lstat(path, &status) == 0, UInt64(status.st_dev) == device, UInt64(status.st_ino) == inode else { return }
        unlink(path)
    }
}
