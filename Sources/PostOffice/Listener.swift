// Listener: one listening TCP socket (IPv4 or IPv6), non-blocking, watched by an EventLoop. It accepts
// connections and hands each new descriptor to the server; it knows no protocol.

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

    /// Binds and listens. `onAccept` runs on `loop` with the new descriptor (non-blocking, close-on-exec)
    /// and the peer and local addresses.
    init(
        spec: ListenerSpec, loop: EventLoop, backlog: Int32 = 1024,
        onAccept: @escaping @Sendable (Int32, SocketAddress, SocketAddress) -> Void
    ) throws(SystemError) {
        self.spec = spec
        let address = spec.address
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = try SystemCall.retrying("socket") {
            socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
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
        if listen(fd, backlog) != 0 {
            let code = errno
            close(fd)
            throw SystemError("listen", errno: code, detail: address.description)
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        boundAddress = named == 0 ? (SocketAddress(storage: &storage) ?? address) : address
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
            var noDelay: Int32 = 1
            _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            let peer = SocketAddress(storage: &peerStorage) ?? SocketAddress(host: "0.0.0.0", port: 0)
            onAccept(client, peer, boundAddress)
        }
    }

    func descriptorWritable() {}

    func checkDeadline(now: UInt64) {}

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
