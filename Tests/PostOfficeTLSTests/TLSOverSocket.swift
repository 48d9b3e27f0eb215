// TLSOverSocket: a tiny blocking loop that runs a TLSSession over a loopback TCP socket, so tests can talk to
// the openssl s_client and s_server tools. Sockets carry a receive timeout so a stuck peer fails the test.
import Foundation
import PostOfficeTLS

#if canImport(Glibc)
import Glibc
#endif

enum LoopbackSocket {
    /// Sets a receive and send timeout so blocking calls cannot hang a test run.
    static func setTimeout(_ descriptor: Int32, seconds: Int = 20) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, size)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, size)
    }

    /// A listening socket on `host` (an IPv4 loopback address) with a kernel-chosen port.
    static func listen(host: String = "127.0.0.1") -> (descriptor: Int32, port: UInt16)? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && Glibc.listen(descriptor, 1) == 0
                    && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard ok else {
            close(descriptor)
            return nil
        }
        setTimeout(descriptor)
        return (descriptor, UInt16(bigEndian: address.sin_port))
    }

    /// A free loopback port (bound, read, released) for a tool that must be told where to listen.
    static func freePort(host: String = "127.0.0.1") -> UInt16? {
        guard let (descriptor, port) = listen(host: host) else { return nil }
        close(descriptor)
        return port
    }

    /// Connects to `host`:`port` (IPv4 loopback), retrying while the peer process starts up.
    static func connect(host: String = "127.0.0.1", port: UInt16, attempts: Int = 100) -> Int32? {
        for _ in 0..<attempts {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { return nil }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr(host)
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if connected {
                setTimeout(descriptor)
                return descriptor
            }
            close(descriptor)
            usleep(100_000)
        }
        return nil
    }
}

/// A TLS session bound to a connected socket, driven with blocking reads and writes.
final class TLSOverSocket {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private(set) var descriptor: Int32
    let session: TLSSession
    private var plaintext: [UInt8] = []

    init(descriptor: Int32, session: TLSSession) {
        self.descriptor = descriptor
        self.session = session
    }

    deinit {
        close()
    }

    /// Closes the socket; later calls do nothing.
    func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }

    func handshake() throws {
        while true {
            let result = session.handshake()
            try flush()
            switch result {
            case .complete: return
            case .failed(let error): throw error
            case .incomplete: try receive()
            }
        }
    }

    /// Reads decrypted bytes until a line feed, returning the line without CR LF.
    func readLine() throws -> String {
        while true {
            if let end = plaintext.firstIndex(of: UInt8(ascii: "\n")) {
                let line = plaintext[..<end].filter { $0 != UInt8(ascii: "\r") }
                plaintext.removeSubrange(...end)
                return String(decoding: line, as: UTF8.self)
            }
            switch try session.readPlaintext(into: &plaintext) {
            case .bytes: continue
            case .wantMore:
                try flush()
                try receive()
            case .closed: throw Failure(description: "peer closed before a full line")
            }
        }
    }

    /// Reads until the peer closes (close_notify or end of stream) and returns everything decrypted.
    func readToEnd() throws -> String {
        reading: while true {
            switch try session.readPlaintext(into: &plaintext) {
            case .bytes: continue
            case .closed: break reading
            case .wantMore:
                try flush()
                if !(try receive(endIsFailure: false)) { break reading }
            }
        }
        return String(decoding: plaintext, as: UTF8.self)
    }

    func write(_ text: String) throws {
        try session.writePlaintext(Array(text.utf8))
        try flush()
    }

    func shutdown() throws {
        session.shutdown()
        try flush()
    }

    private func flush() throws {
        let bytes = session.takeNetworkOutput()
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Receives one chunk of ciphertext; returns false at end of stream unless that is a failure.
    @discardableResult
    private func receive(endIsFailure: Bool = true) throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count > 0 {
            session.receiveFromNetwork(buffer[..<count])
            return true
        }
        if count == 0 && !endIsFailure { return false }
        throw Failure(description: count == 0 ? "peer closed the connection" : "recv failed: errno \(errno)")
    }
}
