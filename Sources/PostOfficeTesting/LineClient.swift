// LineClient: a small blocking TCP client for tests — connect, send lines, read CRLF lines with a timeout.
// The SMTP and POP3 test clients are built on it; it is deliberately simple and never used by the server.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

/// A failure of a test client: connection refused, timeout, or an unexpected reply.
public struct TestClientError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking line-oriented TCP client with a receive timeout.
public final class LineClient {
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to `address`; reads time out after `timeoutSeconds`.
    public init(connectingTo address: SocketAddress, timeoutSeconds: Int = 10) throws {
        let family = address.isUnix ? AF_UNIX : address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestClientError("socket: errno \(errno)") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = address.withSockAddr { connect(fd, $0, $1) }
        guard rc == 0 else {
            let code = errno
            Glibc.close(fd)
            throw TestClientError("connect \(address): errno \(code)")
        }
        self.fd = fd
    }

    deinit { Glibc.close(fd) }

    /// Sends raw bytes.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = SystemCall.restarting { bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) } }
            if n < 0 {
                throw TestClientError("send: errno \(errno)")
            }
            offset += n
        }
    }

    /// Sends a string as is (add "\r\n" yourself).
    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends `line` followed by CRLF.
    public func sendLine(_ line: String) throws { try send(Array((line + "\r\n").utf8)) }

    /// Reads one line (without CRLF). Throws on timeout or when the server closed the connection.
    public func readLine() throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<lf])
                buffer.removeFirst(lf + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            try fill()
        }
    }

    /// Returns buffered bytes, or reads one chunk (for a TLS layer over this connection).
    public func readChunk() throws -> [UInt8] {
        if !buffer.isEmpty {
            defer { buffer = [] }
            return buffer
        }
        try fill()
        defer { buffer = [] }
        return buffer
    }

    /// Reads until the server closes; returns what came. For asserting that a server hung up.
    public func readToEnd() -> [UInt8] {
        var all = buffer
        buffer = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return all }
            all += chunk[0..<n]
        }
    }

    /// True when the server has closed the connection (reads return end of file).
    public func isClosedByPeer() -> Bool {
        if !buffer.isEmpty { return false }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        if n == 1 {
            buffer.append(byte)
            return false
        }
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Closes the connection without any protocol goodbye.
    public func abort() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { throw TestClientError("connection closed by server") }
        if n < 0 {
            if errno == EINTR { return }
            throw TestClientError(errno == EAGAIN ? "timed out waiting for the server" : "recv: errno \(errno)")
        }
        buffer += chunk[0..<n]
    }
}
