// LineConnection: a blocking loopback TCP client for the latency benchmark: send bytes, read SMTP replies
// (multi-line "250-" continuations included). Socket timeouts bound every read and write.

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection that reads SMTP replies.
final class LineConnection {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    init(host: String, port: UInt16, timeoutSeconds: Double) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw BenchmarkError("socket: errno \(errno)") }
        var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            Glibc.close(descriptor)
            throw BenchmarkError("not an IPv4 address: \(host)")
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw BenchmarkError("connect \(host):\(port): errno \(code)")
        }
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8)[...])
    }

    func send(_ bytes: ArraySlice<UInt8>) throws {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw BenchmarkError("send: errno \(errno)")
            }
            offset += written
        }
    }

    /// Reads one reply (all its lines) and checks its code.
    func expect(_ code: Int) throws {
        while true {
            let line = try readLine()
            guard line.count >= 3, let got = Int(String(decoding: line.prefix(3), as: UTF8.self)) else {
                throw BenchmarkError("bad reply line: \(String(decoding: line, as: UTF8.self))")
            }
            if line.count > 3 && line[3] == UInt8(ascii: "-") { continue }
            guard got == code else {
                throw BenchmarkError("expected \(code), got: \(String(decoding: line, as: UTF8.self))")
            }
            return
        }
    }

    private func readLine() throws -> [UInt8] {
        while true {
            if let end = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<end])
                buffer.removeFirst(end + 1)
                if line.last == 13 { line.removeLast() }
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw BenchmarkError(count == 0 ? "connection closed" : "recv: errno \(errno) (timeout?)") }
            buffer += chunk[..<count]
        }
    }

    func close() {
        Glibc.close(descriptor)
    }
}
