// Listener: one listening TCP socket (IPv4 or IPv6), non-blocking, driven by a Dispatch read source.
// It accepts connections and hands each new descriptor to the server; it knows no protocol.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

final class Listener: @unchecked Sendable {
    let requestedAddress: SocketAddress
    /// The address actually bound (the chosen port when 0 was asked for).
    let boundAddress: SocketAddress
    private let fd: Int32
    private let source: any DispatchSourceRead
    private let queue: DispatchQueue
    private var isCancelled = false
    /// Accepting is paused for a moment after running out of descriptors (see the event handler).
    private var isPaused = false

    /// Binds and listens. `onAccept` runs on the listener's queue with the new descriptor (non-blocking,
    /// close-on-exec) and the peer and local addresses.
    init(
        address: SocketAddress, backlog: Int32 = 1024,
        onAccept: @escaping @Sendable (Int32, SocketAddress, SocketAddress) -> Void
    ) throws(SystemError) {
        requestedAddress = address
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
        queue = DispatchQueue(label: "postoffice.listener.\(boundAddress)")
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        let local = boundAddress
        source.setEventHandler { [weak self, fd] in
            // Accept everything pending: one event may stand for many connections.
            for _ in 0..<256 {
                var peerStorage = sockaddr_storage()
                var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let client = withUnsafeMutablePointer(to: &peerStorage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        accept(fd, $0, &peerLength)
                    }
                }
                if client < 0 {
                    // EAGAIN: drained. Out of descriptors (EMFILE/ENFILE) or kernel memory: the pending
                    // connection stays queued and the socket readable, so the level-triggered source would
                    // fire again at once and spin on failing accepts; wait a moment instead.
                    let code = errno
                    if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM { self?.pauseAccepting() }
                    return
                }
                // accept4 is not visible through Glibc's module map; two fcntls do the same.
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                // Replies go out in several sends (POP3: "+OK", body, "."): without TCP_NODELAY, Nagle holds the
                // last small one until the client's delayed ACK, about 40 ms per RETR.
                var noDelay: Int32 = 1
                _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
                let peer = SocketAddress(storage: &peerStorage) ?? SocketAddress(host: "0.0.0.0", port: 0)
                onAccept(client, peer, local)
            }
        }
        source.setCancelHandler { [fd] in close(fd) }
    }

    func start() { source.resume() }

    /// Suspends the source for 100 ms. Runs on `queue`, as do the resume and `cancel`.
    private func pauseAccepting() {
        guard !isCancelled, !isPaused else { return }
        isPaused = true
        source.suspend()
        queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [weak self] in
            guard let self, isPaused else { return }
            isPaused = false
            source.resume()
        }
    }

    /// Stops accepting and closes the socket.
    func cancel() {
        queue.sync {
            guard !isCancelled else { return }
            isCancelled = true
            source.cancel()
            // A suspended source runs its cancel handler (which closes the socket) only once resumed.
            if isPaused {
                isPaused = false
                source.resume()
            }
        }
    }
}
