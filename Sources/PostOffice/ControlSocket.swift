// ControlSocket: the Unix socket in the data folder (DATA/control.sock, mode 0600) through which the CLI reaches
// the running server (`postoffice queue flush`, `postoffice sendmail`'s pickup). The event loop only accepts;
// each short connection is read, answered and closed on the storage pool with a 2-second timeout, so a silent
// client never stalls the loop.
// A stale socket file left by a crash is replaced; one a live server answers on is left alone.

import CLinuxEvents
import PostOfficeCore
#if canImport(Glibc)
import Glibc
#endif

final class ControlSocket: @unchecked Sendable, EventLoopHandler {
    /// The socket file.
    let path: String
    private let descriptor: ListeningDescriptor
    private var fd: Int32 { descriptor.fd }
    private let pool: BlockingWorkPool
    private let handle: @Sendable (ControlRequest) -> ControlReply
    private let logSink: any LogSink
    private let lock = Lock()
    /// Connections being answered on the pool; more than a few at once are closed unanswered.
    private var busy = 0
    /// The socket file, removed at shutdown only while it is still ours.
    private let file: UnixSocketFile

    /// Why the socket could not be made.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Binds `path` (mode 0600; owned by `owner` when given, for a server that drops root) and listens.
    init(
        path: String, owner: (uid: UInt32, gid: UInt32)? = nil, loop: EventLoop, pool: BlockingWorkPool,
        logSink: any LogSink, handle: @escaping @Sendable (ControlRequest) -> ControlReply
    ) throws(Failure) {
        guard Self.address(path) != nil else {
            throw Failure(description: "\(path): longer than a Unix socket path may be (107 bytes)")
        }
        do throws(SystemError) {
            try UnixSocketFile.removeStale(at: path)
        } catch {
            switch error.errno {
            case EEXIST: throw Failure(description: "\(path) exists and is not a socket; remove it")
            case EADDRINUSE: throw Failure(description: "\(path): another server answers on it (two servers on one data folder?)")
            default: throw Failure(description: error.description)
            }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(SystemError("socket", errno: errno))") }
        let bound = SocketAddress(unixPath: path).withSockAddr { bind(fd, $0, $1) }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw Failure(description: "bind \(path): \(SystemError("bind", errno: code))")
        }
        // 0600, owned by the user the server runs as; before listen() nobody can connect, so no window.
        do throws(SystemError) {
            file = try UnixSocketFile(bound: path, mode: 0o600, owner: owner)
        } catch {
            close(fd)
            unlink(path)
            throw Failure(description: error.description)
        }
        guard listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw Failure(description: "listen \(path): \(SystemError("listen", errno: code))")
        }
        self.path = path
        descriptor = ListeningDescriptor(fd, loop: loop)
        self.pool = pool
        self.logSink = logSink
        self.handle = handle
    }

    /// Starts accepting (the loop must be running).
    func start() {
        descriptor.start(self)
    }

    /// Stops accepting, closes the socket and removes its file; returns once closed.
    func cancel() {
        descriptor.cancel { [file] in file.remove() }
    }

    // MARK: - EventLoopHandler

    func descriptorReadable() {
        for _ in 0..<16 {
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { clinuxevents_accept_nonblocking(fd, $0, &peerLength) }
            }
            guard client >= 0 else { return }
            // Served with blocking reads and timeouts on the pool.
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) & ~O_NONBLOCK)
            let admitted: Bool = lock.withLock {
                guard busy < 4 else { return false }
                busy += 1
                return true
            }
            guard admitted else {
                close(client)
                continue
            }
            pool.submit { [self] in
                serve(client)
                lock.withLock { busy -= 1 }
            }
        }
    }

    func descriptorWritable() {}

    func checkDeadline(now: UInt64) {}

    /// Reads one request line, answers it, closes. Blocking, with timeouts: runs on the storage pool.
    private func serve(_ client: Int32) {
        defer { close(client) }
        Self.setTimeouts(client, milliseconds: 2000)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while bytes.count < ControlRequest.maximumLineLength, !bytes.contains(UInt8(ascii: "\n")) {
            let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        let reply: ControlReply
        if let end = bytes.firstIndex(of: UInt8(ascii: "\n")) {
            do {
                let request = try ControlRequest(parsing: String(decoding: bytes[..<end], as: UTF8.self))
                reply = handle(request)
                logSink.log(LogRecord(.info, "control.request", [
                    ("request", String(request.line.dropLast())), ("result", reply.isSuccess ? "ok" : "error"),
                ]))
            } catch {
                reply = ControlReply(isSuccess: false, text: error.description)
            }
        } else {
            reply = ControlReply(isSuccess: false, text: bytes.count >= ControlRequest.maximumLineLength
                ? "request line too long" : "no complete request line (end it with a line feed)")
        }
        Self.writeAll(client, Array(reply.line.utf8))
    }

    // MARK: - Client side

    /// Sends `request` to the server listening at `path` and returns its reply; nil when no server answers
    /// there (no socket, a stale one, one this user may not open, or no reply in time). Connecting, sending
    /// and reading each wait at most `timeoutMilliseconds`.
    static func exchange(_ request: ControlRequest, path: String, timeoutMilliseconds: Int) -> ControlReply? {
        guard var address = address(path) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        setTimeouts(fd, milliseconds: timeoutMilliseconds)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0, writeAll(fd, Array(request.line.utf8)) else { return nil }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while bytes.count < 64 * 1024, !bytes.contains(UInt8(ascii: "\n")) {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return ControlReply(parsing: String(decoding: bytes, as: UTF8.self))
    }

    private static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        return address
    }

    /// SO_RCVTIMEO and SO_SNDTIMEO; on a Unix socket the send timeout bounds connect() too (a full backlog).
    private static func setTimeouts(_ fd: Int32, milliseconds: Int) {
        let milliseconds = max(1, milliseconds)
        var limit = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    @discardableResult
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }
}

extension ControlRequest {
    /// Sends the request to the server whose control socket is `path` (``PostOfficeConfiguration/controlSocketPath``)
    /// and returns its reply; nil when no server answers there (none running, or a stale socket file).
    public func send(to path: String, timeoutSeconds: Int = 10) -> ControlReply? {
        ControlSocket.exchange(self, path: path, timeoutMilliseconds: timeoutSeconds * 1000)
    }

    /// ``send(to:timeoutSeconds:)`` with each step (connect, send, read the reply) bounded by
    /// `timeoutMilliseconds`: for a best-effort request such as `postoffice sendmail`'s ``pickup``.
    public func send(to path: String, timeoutMilliseconds: Int) -> ControlReply? {
        ControlSocket.exchange(self, path: path, timeoutMilliseconds: timeoutMilliseconds)
    }
}
