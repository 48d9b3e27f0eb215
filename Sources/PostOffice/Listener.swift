// Listener: one listening socket — TCP (IPv4 or IPv6) or Unix-domain — non-blocking, watched by an EventLoop.
// It accepts connections and hands each new descriptor to the server; it knows no protocol. A Unix socket
// replaces a stale file left by a crash (never a live server's socket), is mode 0660, and is removed at close.

import CLinuxEvents
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

final class Listener: @unchecked Sendable, EventLoopHandler {
    /// What this listener serves (its address is the requested one).
    let spec: ListenerSpec
    /// The address actually bound (the chosen port when 0 was asked for).
    let boundAddress: SocketAddress
    private let fd: Int32
    private let loop: EventLoop
    private let onAccept: @Sendable (Int32, SocketAddress, SocketAddress) -> Void
    /// Loop thread only (or before `start`).
    private var isRegistered = false
    private var isClosed = false
    /// The device and inode of the Unix socket this listener created, so closing removes that file and not
    /// one another process has put in its place since.
    private let unixSocketIdentity: (device: UInt64, inode: UInt64)?

    /// Binds and listens. `onAccept` runs on `loop` with the new descriptor (non-blocking, close-on-exec)
    /// and the peer and local addresses.
    init(
        spec: ListenerSpec, loop: EventLoop, backlog: Int32 = 1024,
        onAccept: @escaping @Sendable (Int32, SocketAddress, SocketAddress) -> Void
    ) throws(SystemError) {
        self.spec = spec
        let address = spec.address
        if let path = address.unixPath { try Self.removeStaleSocket(at: path) }
        let family = address.isUnix ? AF_UNIX : address.isIPv6 ? AF_INET6 : AF_INET
        let fd = try SystemCall.retrying("socket") {
            socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        var one: Int32 = 1
        if !address.isUnix { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        if address.isIPv6 {
            // A v6 listener serves v6 only; configure 0.0.0.0 separately for v4. Predictable across systems.
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = address.withSockAddr { bind(fd, $0, $1) }
        if bound != 0 {
            let code = errno
            close(fd)
            throw SystemError("bind", errno: code, detail: address.description)
        }
        var identity: (device: UInt64, inode: UInt64)?
        if let path = address.unixPath {
            // Before listen() nobody can connect, so setting the mode here leaves no window: owner and
            // group (the MTA's user belongs to it) may connect, others may not.
            var status = stat()
            guard chmod(path, 0o660) == 0, lstat(path, &status) == 0 else {
                let code = errno
                close(fd)
                unlink(path)
                throw SystemError("chmod", errno: code, detail: path)
            }
            identity = (UInt64(status.st_dev), UInt64(status.st_ino))
        }
        unixSocketIdentity = identity
        if listen(fd, backlog) != 0 {
            let code = errno
            close(fd)
            if let path = address.unixPath { unlink(path) }
            throw SystemError("listen", errno: code, detail: address.description)
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        boundAddress = address.isUnix || named != 0 ? address : (SocketAddress(storage: &storage) ?? address)
        self.fd = fd
        self.loop = loop
        self.onAccept = onAccept
    }

    /// Starts accepting (the loop must be running).
    func start() {
        loop.execute { [self] in
            guard !isClosed, !isRegistered else { return }
            isRegistered = loop.register(fd, interest: .readable, handler: self)
        }
    }

    /// Stops accepting and closes the socket; returns once it is closed.
    func cancel() {
        let closed = DispatchSemaphore(value: 0)
        let close: @Sendable () -> Void = { [self] in
            if !isClosed {
                isClosed = true
                if isRegistered { loop.deregister(fd) }
                Glibc.close(fd)
                removeUnixSocket()
            }
            closed.signal()
        }
        if loop.isCurrent {
            close()
        } else if loop.isRunning {
            loop.execute(close)
            closed.wait()
        } else {
            close()
        }
    }

    // MARK: - EventLoopHandler

    func descriptorReadable() {
        // Accept everything pending (up to a bound, so other sockets on this loop get their turn).
        for _ in 0..<256 {
            var peerStorage = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &peerStorage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    clinuxevents_accept_nonblocking(fd, $0, &peerLength)
                }
            }
            if client < 0 {
                // EAGAIN: drained. Out of descriptors (EMFILE/ENFILE) or kernel memory: the connection stays
                // queued and the socket readable, so level-triggered epoll would report it again at once
                // and spin on failing accepts; stop watching for 100 ms instead.
                let code = errno
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM { pauseAccepting() }
                return
            }
            // Replies go out in several sends (POP3: "+OK", body, "."): without TCP_NODELAY, Nagle holds the
            // last small one until the client's delayed ACK, about 40 ms per RETR.
            if !spec.address.isUnix {
                var noDelay: Int32 = 1
                _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            }
            let peer = SocketAddress(storage: &peerStorage) ?? SocketAddress(host: "0.0.0.0", port: 0)
            onAccept(client, peer, boundAddress)
        }
    }

    func descriptorWritable() {}

    func checkDeadline(now: UInt64) {}

    /// A socket file left at `path` by a server that died is removed; a live server's socket (one that
    /// accepts a connection) and anything that is not a socket are left alone and refused (EADDRINUSE,
    /// EEXIST), so a second instance or a typo cannot take over or delete someone else's file.
    private static func removeStaleSocket(at path: String) throws(SystemError) {
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

    /// Removes the Unix socket file at close, if it is still the one this listener created.
    private func removeUnixSocket() {
        guard let path = spec.address.unixPath, let identity = unixSocketIdentity else { return }
        var status = stat()
        guard lstat(path, &status) == 0, UInt64(status.st_dev) == identity.device, UInt64(status.st_ino) == identity.inode
        else { return }
        unlink(path)
    }

    /// Unwatches the socket for 100 ms (on the loop).
    private func pauseAccepting() {
        guard isRegistered, !isClosed else { return }
        isRegistered = false
        loop.deregister(fd)
        loop.schedule(afterMilliseconds: 100) { [self] in
            guard !isClosed, !isRegistered else { return }
            isRegistered = loop.register(fd, interest: .readable, handler: self)
        }
    }
}
