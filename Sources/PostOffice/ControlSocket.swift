// ControlSocket: the Unix socket in the data folder (DATA/control.sock, mode 0600) through which the CLI reaches
// the running server (`postoffice queue flush`). The event loop only accepts; each short connection is read,
// answered and closed on the storage pool with a 2-second timeout, so a silent client never stalls the loop.
// A stale socket file left by a crash is replaced; one a live server answers on is left alone.

import CLinuxEvents
import PostOfficeCore
#if canImport(Glibc)
import Glibc
#endif
import Dispatch

final class ControlSocket: @unchecked Sendable, EventLoopHandler {
    /// The socket file.
    let path: String
    private let fd: Int32
    private let loop: EventLoop
    private let pool: BlockingWorkPool
    private let handle: @Sendable (ControlRequest) -> ControlReply
    private let logSink: any LogSink
    private let lock = Lock()
    /// Connections being answered on the pool; more than a few at once are closed unanswered.
    private var busy = 0
    /// Loop thread only.
    private var isRegistered = false
    private var isClosed = false
    /// The socket file's identity, so shutdown removes it only while it is still ours.
    private let inode: (UInt64, UInt64)

    /// Why the socket could not be made.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Binds `path` (mode 0600; owned by `owner` when given, for a server that drops root) and listens.
    init(
        path: String, owner: (uid: UInt32, gid: UInt32)? = nil, loop: EventLoop, pool: BlockingWorkPool,
        logSink: any LogSink, handle: @escaping @Sendable (ControlRequest) -> ControlReply
    ) throws(Failure) {
        guard var address = Self.address(path) else {
            throw Failure(description: "\(path): longer than a Unix socket path may be (107 bytes)")
        }
        var status = stat()
        if lstat(path, &status) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFSOCK else {
                throw Failure(description: "\(path) exists and is not a socket; remove it")
            }
            if Self.isAnswered(path) {
                throw Failure(description: "\(path): another server answers on it (two servers on one data folder?)")
            }
            // Left by a server that died: nobody listens, so it is replaced.
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(SystemError("socket", errno: errno))") }
        // 0600 from the start: the umask closes the window between bind and chmod.
        let oldMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let bindError = errno
        umask(oldMask)
        guard bound == 0 else {
            close(fd)
            throw Failure(description: "bind \(path): \(SystemError("bind", errno: bindError))")
        }
        chmod(path, 0o600)
        if let owner { _ = chown(path, owner.uid, owner.gid) }
        guard listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw Failure(description: "listen \(path): \(SystemError("listen", errno: code))")
        }
        _ = lstat(path, &status)
        inode = (UInt64(status.st_dev), UInt64(status.st_ino))
        self.path = path
        self.fd = fd
        self.loop = loop
        self.pool = pool
        self.logSink = logSink
        self.handle = handle
    }

    /// Starts accepting (the loop must be running).
    func start() {
        loop.execute { [self] in
            guard !isClosed, !isRegistered else { return }
            isRegistered = loop.register(fd, interest: .readable, handler: self)
        }
    }

    /// Stops accepting, closes the socket and removes its file; returns once closed.
    func cancel() {
        let closed = DispatchSemaphore(value: 0)
        let close: @Sendable () -> Void = { [self] in
            if !isClosed {
                isClosed = true
                if isRegistered { loop.deregister(fd) }
                Glibc.close(fd)
                var status = stat()
                if lstat(path, &status) == 0, UInt64(status.st_dev) == inode.0, UInt64(status.st_ino) == inode.1 {
                    unlink(path)
                }
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
        Self.setTimeouts(client, seconds: 2)
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
    /// there (no socket, a stale one, or no reply within a few seconds).
    static func exchange(_ request: ControlRequest, path: String, timeoutSeconds: Int) -> ControlReply? {
        guard var address = address(path) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        setTimeouts(fd, seconds: timeoutSeconds)
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

    /// True when something accepts connections at `path`.
    static func isAnswered(_ path: String) -> Bool {
        guard var address = address(path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return connected == 0
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

    private static func setTimeouts(_ fd: Int32, seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
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
        ControlSocket.exchange(self, path: path, timeoutSeconds: timeoutSeconds)
    }
}
