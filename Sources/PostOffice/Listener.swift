// Listener: one listening socket — TCP (IPv4 or IPv6) or Unix-domain — non-blocking, watched by an EventLoop.
// It accepts connections and hands each new descriptor to the server; it knows no protocol. A Unix socket
// replaces a stale file left by a crash (never a live server's socket), is mode 0660, and is removed at close.

import CLinuxEvents
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

final class Listener: @unchecked Sendable, EventLoopHandler {
    /// What this listener serves (its address is the requested one).
    let spec: ListenerSpec
    /// The address actually bound (the chosen port when 0 was asked for).
    let boundAddress: SocketAddress
    private let descriptor: ListeningDescriptor
    private var fd: Int32 { descriptor.fd }
    private let onAccept: @Sendable (Int32, SocketAddress, SocketAddress) -> Void
    /// The Unix socket's file, removed at close while it is still the one this listener made.
    private let unixSocketFile: UnixSocketFile?

    /// Binds and listens. `onAccept` runs on `loop` with the new descriptor (non-blocking, close-on-exec)
    /// and the peer and local addresses.
    init(
        spec: ListenerSpec, loop: EventLoop, backlog: Int32 = 1024,
        onAccept: @escaping @Sendable (Int32, SocketAddress, SocketAddress) -> Void
    ) throws(SystemError) {
        self.spec = spec
        let address = spec.address
        if let path = address.unixPath { try UnixSocketFile.removeStale(at: path) }
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
        var unixSocketFile: UnixSocketFile?
        if let path = address.unixPath {
            // Owner and group (the MTA's user belongs to it) may connect, others may not.
            do throws(SystemError) {
                unixSocketFile = try UnixSocketFile(bound: path, mode: 0o660)
            } catch {
                close(fd)
                unlink(path)
                throw error
            }
        }
        self.unixSocketFile = unixSocketFile
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
        descriptor = ListeningDescriptor(fd, loop: loop)
        self.onAccept = onAccept
    }

    /// Starts accepting (the loop must be running).
    func start() {
        descriptor.start(self)
    }

    /// Stops accepting and closes the socket (removing a Unix socket's file); returns once it is closed.
    func cancel() {
        descriptor.cancel { [unixSocketFile] in unixSocketFile?.remove() }
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
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM {
                    descriptor.pause(milliseconds: 100, self)
                }
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
}
