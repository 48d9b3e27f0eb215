// OutboundConnector: opens TCP connections from this server to others (for the future SMTP client and delivery
// queue) on an EventLoop: a non-blocking connect with a deadline, IPv4 or IPv6, an optional source address,
// and the connected socket handed over as a Connection, so outbound sessions reuse its send, back-pressure
// and TLS code instead of growing a second socket layer.

import CLinuxEvents
import Glibc
import PostOfficeCore

/// Opens outbound TCP connections on one ``EventLoop``.
///
/// `connect` never blocks: the socket is non-blocking, the loop waits for it to become writable (the kernel's
/// signal that the three-way handshake ended) and reads the outcome with `getsockopt(SO_ERROR)`, as
/// [connect(2)](https://man7.org/linux/man-pages/man2/connect.2.html) describes for `EINPROGRESS`.
/// The completion always runs later on the loop's thread, never inside `connect` itself.
struct OutboundConnector: Sendable {
    /// Why a connect failed, classified for retry decisions
    /// ([RFC 5321 §4.5.4.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.4.1): try the next MX, or later).
    struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        enum Kind: Hashable, Sendable {
            /// Nothing listens there: the peer answered the SYN with a reset (`ECONNREFUSED`).
            case refused
            /// No answer within the timeout (or the kernel gave up retrying: `ETIMEDOUT`).
            case timedOut
            /// No route to the network or host (`ENETUNREACH`, `EHOSTUNREACH`, `ENETDOWN`, `EHOSTDOWN`).
            case unreachable
            /// The source address cannot be used: not local, in use, or of the other family.
            case sourceAddress
            /// Anything else: no descriptors left, no memory, a socket that reports no peer.
            case other
        }

        var kind: Kind
        /// The system call that failed (`socket`, `bind`, `connect`, `getpeername`), or `timeout`.
        var call: String
        /// The `errno`, when a call reported one.
        var errno: Int32?
        /// Where the connection was going.
        var remote: SocketAddress

        /// Classifies `errno` from `call` for a connection to `remote`.
        init(call: String, errno: Int32, remote: SocketAddress) {
            self.call = call
            self.errno = errno
            self.remote = remote
            kind =
                if call == "bind" {
                    .sourceAddress
                } else {
                    switch errno {
                    case ECONNREFUSED: .refused
                    case ETIMEDOUT: .timedOut
                    case ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN: .unreachable
                    default: .other
                    }
                }
        }

        init(kind: Kind, call: String, errno: Int32? = nil, remote: SocketAddress) {
            self.kind = kind
            self.call = call
            self.errno = errno
            self.remote = remote
        }

        /// One log line, such as `connect to 127.0.0.1:25 refused (connect: Connection refused)`.
        var description: String {
            let what =
                switch kind {
                case .refused: "refused"
                case .timedOut: "timed out"
                case .unreachable: "unreachable"
                case .sourceAddress: "failed: source address unusable"
                case .other: "failed"
                }
            guard let errno else { return "connect to \(remote) \(what) (\(call))" }
            return "connect to \(remote) \(what) (\(call): \(String(cString: strerror(errno))))"
        }
    }

    /// The loop that runs the connects and, afterwards, the connections.
    let loop: EventLoop

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Connects to `remote`, from `source` if given, and calls `completion` on the loop with a ``Connection``
    /// (not yet started: set its handler, then `start()`) or a ``Failure``. Safe from any thread.
    ///
    /// - Parameters:
    ///   - source: The local address to bind first (for a server with several addresses, so the peer sees
    ///     the one its SPF record or reverse DNS names); port 0 lets the kernel choose the port.
    ///   - timeoutMilliseconds: How long the TCP handshake may take before ``Failure/Kind/timedOut``.
    ///   - id: The connection's id for logs.
    ///   - onFinish: Runs once when the connection closes, as for accepted connections.
    func connect(
        to remote: SocketAddress,
        from source: SocketAddress? = nil,
        timeoutMilliseconds: Int,
        id: String,
        onFinish: @escaping @Sendable (Connection) -> Void = { _ in },
        completion: @escaping @Sendable (Result<Connection, Failure>) -> Void
    ) {
        let attempt = Attempt(
            remote: remote, source: source, id: id, loop: loop, onFinish: onFinish, completion: completion
        )
        loop.execute { attempt.begin(timeoutMilliseconds: timeoutMilliseconds) }
    }

    /// One connect in flight: registered for writable until it resolves, then handed to a Connection or closed.
    /// Loop thread only, after `connect` hands it over.
    private final class Attempt: EventLoopHandler, @unchecked Sendable {
        let remote: SocketAddress
        let source: SocketAddress?
        let id: String
        let loop: EventLoop
        let onFinish: @Sendable (Connection) -> Void
        /// Cleared once called, so a timer still pending does not keep the caller's captures alive.
        var completion: (@Sendable (Result<Connection, Failure>) -> Void)?
        var fd: Int32 = -1
        var isRegistered = false

        /// IP_BIND_ADDRESS_NO_PORT (Linux 4.2, <linux/in.h>; not in the Glibc module): with a source address
        /// the port is picked at connect time against the full 4-tuple, so many outbound connections from
        /// one address do not exhaust the ephemeral ports the way bind-time selection would.
        private static let bindAddressNoPort: Int32 = 24

        init(
            remote: SocketAddress, source: SocketAddress?, id: String, loop: EventLoop,
            onFinish: @escaping @Sendable (Connection) -> Void,
            completion: @escaping @Sendable (Result<Connection, Failure>) -> Void
        ) {
            self.remote = remote
            self.source = source
            self.id = id
            self.loop = loop
            self.onFinish = onFinish
            self.completion = completion
        }

        func begin(timeoutMilliseconds: Int) {
            if let source, source.isIPv6 != remote.isIPv6 {
                fail(Failure(kind: .sourceAddress, call: "bind", errno: EAFNOSUPPORT, remote: remote))
                return
            }
            let family = remote.isIPv6 ? AF_INET6 : AF_INET
            fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                fail(Failure(call: "socket", errno: errno, remote: remote))
                return
            }
            // A message goes out in several sends (the body's chunks, then "."): without TCP_NODELAY, Nagle
            // holds the last small one until the server's delayed ACK, about 40 ms per message.
            var noDelay: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            if let source {
                if source.port == 0 {
                    var one: Int32 = 1
                    // Best effort: an older kernel just picks the port at bind time.
                    _ = setsockopt(fd, Int32(IPPROTO_IP), Self.bindAddressNoPort, &one, socklen_t(MemoryLayout<Int32>.size))
                }
                guard source.withSockAddr({ Glibc.bind(fd, $0, $1) }) == 0 else {
                    fail(Failure(call: "bind", errno: errno, remote: remote))
                    return
                }
            }
            if remote.withSockAddr({ Glibc.connect(fd, $0, $1) }) == 0 {
                // Loopback connects can finish at once.
                succeed()
                return
            }
            let code = errno
            // EINTR on a non-blocking connect: the handshake carries on in the background, like EINPROGRESS.
            guard code == EINPROGRESS || code == EINTR else {
                fail(Failure(call: "connect", errno: code, remote: remote))
                return
            }
            guard loop.register(fd, interest: .writable, handler: self) else {
                fail(Failure(call: "epoll_ctl", errno: errno, remote: remote))
                return
            }
            isRegistered = true
            loop.schedule(afterMilliseconds: timeoutMilliseconds) { [self] in
                guard completion != nil else { return }
                fail(Failure(kind: .timedOut, call: "timeout", remote: remote))
            }
        }

        // Writable means the handshake ended; an error or reset may arrive as readable/hang-up instead.
        func descriptorWritable() { resolve() }
        func descriptorReadable() { resolve() }
        func checkDeadline(now: UInt64) {}

        private func resolve() {
            guard completion != nil else { return }
            var pending: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &length) == 0 else {
                fail(Failure(call: "getsockopt", errno: errno, remote: remote))
                return
            }
            if pending != 0 {
                fail(Failure(call: "connect", errno: pending, remote: remote))
                return
            }
            succeed()
        }

        private func succeed() {
            stopWatching()
            let connection: Connection
            do {
                connection = try Connection(connectedDescriptor: fd, id: id, loop: loop, onFinish: onFinish)
            } catch {
                fail(Failure(call: error.call, errno: error.errno, remote: remote))
                return
            }
            fd = -1  // the connection owns it now
            finish(.success(connection))
        }

        private func fail(_ failure: Failure) {
            stopWatching()
            if fd >= 0 {
                Glibc.close(fd)
                fd = -1
            }
            finish(.failure(failure))
        }

        private func stopWatching() {
            guard isRegistered else { return }
            isRegistered = false
            // Deregister rather than forget: a Connection registers the same descriptor again.
            loop.deregister(fd)
        }

        private func finish(_ result: Result<Connection, Failure>) {
            guard let completion else { return }
            self.completion = nil
            completion(result)
        }
    }
}
