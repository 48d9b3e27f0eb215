// LoopbackSMTPSink: Postfix's smtp-sink on 127.0.0.2 and a blocking-socket driver for SMTPClientStateMachine,
// so the engine meets a real server. Tests using it are enabled only where smtp-sink is installed.

import Foundation
import PostOfficeSMTPClient

#if canImport(Glibc)
import Glibc
#endif

/// A running `smtp-sink` that appends what it receives to `dumpPath`.
final class LoopbackSMTPSink {
    static var executable: String? {
        ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink", "/usr/local/sbin/smtp-sink"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    static var isAvailable: Bool { executable != nil }

    static let host = "127.0.0.2"
    let port: UInt16
    let dumpPath: String
    private let process = Process()
    private let directory: String

    /// Starts the sink with extra options (`-f RCPT` refuses RCPT with 5xx...).
    init(options: [String] = []) throws {
        directory = NSTemporaryDirectory() + "smtp-sink-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // smtp-sink drops privileges to `nobody`, which must be able to write the dump.
        chmod(directory, 0o777)
        dumpPath = directory + "/dump"
        port = try Self.freePort()
        process.executableURL = URL(fileURLWithPath: Self.executable ?? "smtp-sink")
        process.arguments = ["-u", "nobody", "-D", dumpPath] + options + ["\(Self.host):\(port)", "10"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        // smtp-sink ignores SIGTERM (Process.terminate), and waitUntilExit would then wait for ever.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var dump: String { (try? String(contentsOfFile: dumpPath, encoding: .utf8)) ?? "" }

    /// A port the kernel just gave out on 127.0.0.2 (free a moment ago; the sink binds it next).
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = Self.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return UInt16(bigEndian: address.sin_port)
    }

    static func address(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    /// A blocking connection to the sink, retried while it starts up.
    func connect() throws -> Int32 {
        for _ in 0..<50 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.address(port: port)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if connected {
                // The engine's replyTimeoutSeconds is minutes; a test should not hang that long.
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return fd
            }
            close(fd)
            usleep(100_000)
        }
        throw POSIXError(.ECONNREFUSED)
    }
}

/// Drives one engine over a blocking socket until it closes; returns every result action.
func runClientSession(
    fd: Int32, configuration: SMTPClientConfiguration, messages: [(SMTPOutboundMessage, String)]
) -> [SMTPClientAction] {
    var engine = SMTPClientStateMachine(configuration: configuration)
    var pending = messages[...]
    var content: [UInt8] = []
    var offset = 0
    var results: [SMTPClientAction] = []
    var queue = engine.connected()[...]
    var buffer = [UInt8](repeating: 0, count: 4096)
    defer { close(fd) }
    while !engine.isClosed {
        while let action = queue.popFirst() {
            switch action {
            case .send(let bytes):
                var sent = 0
                while sent < bytes.count {
                    let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    sent += n
                }
            case .readContent:
                if offset < content.count {
                    let end = min(offset + 1000, content.count)
                    queue += engine.contentAvailable(content[offset..<end])
                    offset = end
                } else {
                    queue += engine.contentEnded()
                }
            case .readyForMessage:
                if let (message, text) = pending.popFirst() {
                    content = Array(text.utf8)
                    offset = 0
                    queue += engine.deliver(message)
                } else {
                    queue += engine.quit()
                }
            case .needsDecision: queue += engine.resolveEightBitContent(.bounce)
            case .startTLS: queue += engine.connectionLost()  // smtp-sink has no TLS
            case .recipientResult, .messageResult, .sessionFailed: results.append(action)
            case .close: break
            }
        }
        if engine.isClosed { break }
        let n = read(fd, &buffer, buffer.count)
        if n > 0 {
            queue += engine.receive(buffer[..<n])
        } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
            queue += engine.timedOut()
        } else {
            queue += engine.connectionLost()
        }
    }
    return results
}
