// LoopbackPOP3Server: a minimal blocking TCP runtime for tests, so real POP3 clients (python3 poplib,
// mpop) can talk to the engine. One connection, in-memory messages, credentials alice/secret.
import Foundation
import PostOfficeCore
@testable import PostOfficePOP3

#if canImport(Glibc)
import Glibc
#endif

final class LoopbackPOP3Server: @unchecked Sendable {
    struct StoredMessage {
        var uniqueID: String
        var storageKey: String
        var content: [UInt8]
    }

    let port: UInt16
    private let listener: Int32
    private let messages: [StoredMessage]
    private let lock = Lock()
    private var isListenerClosed = false
    private var recordedCommits: [(deleted: [String], retrieved: [String])] = []
    private let finished = DispatchSemaphore(value: 0)

    var commits: [(deleted: [String], retrieved: [String])] { lock.withLock { recordedCommits } }

    init?(messages: [StoredMessage]) {
        self.messages = messages
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && listen(descriptor, 1) == 0
                    && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            return nil
        }
        listener = descriptor
        port = UInt16(bigEndian: address.sin_port)
    }

    /// Serves one connection on a background thread.
    func serveOneConnection() {
        Thread.detachNewThread { [self] in
            let connection = accept(listener, nil, nil)
            // Closed under the lock so stop() never shuts down a descriptor number reused elsewhere.
            lock.withLock {
                close(listener)
                isListenerClosed = true
            }
            if connection >= 0 {
                run(connection)
                close(connection)
            }
            finished.signal()
        }
    }

    func waitUntilFinished() { finished.wait() }

    /// Unblocks a pending accept when the client never connected.
    func stop() {
        lock.withLock {
            if !isListenerClosed { _ = shutdown(listener, Int32(SHUT_RDWR)) }
        }
    }

    /// Size on the wire with CRLF line endings, as a Maildir runtime would compute it.
    static func wireSize(_ content: [UInt8]) -> Int {
        var size = content.count
        for index in content.indices where content[index] == 10 && (index == 0 || content[index - 1] != 13) {
            size += 1
        }
        return size
    }

    private func run(_ connection: Int32) {
        var configuration = POP3ServerConfiguration(hostname: "localhost", limits: Limits())
        configuration.allowsPlaintextAuthentication = true
        var machine = POP3ServerStateMachine(configuration: configuration)
        let snapshot = messages.map {
            POP3MessageInfo(uniqueID: $0.uniqueID, octets: Self.wireSize($0.content), storageKey: $0.storageKey)
        }
        var queue = machine.start()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var isOpen = true
        while isOpen {
            while !queue.isEmpty {
                let action = queue.removeFirst()
                switch action {
                case .send, .sendMultiline:
                    write(connection, action.wireBytes ?? [])
                case .authenticate(let user, let password):
                    let ok = user == "alice" && password == "secret"
                    queue += machine.authenticationFinished(ok ? .success(snapshot) : .failure)
                case .authenticateAPOP:
                    queue += machine.authenticationFinished(.failure)
                case .sendMessage(let key, let octets, let limit):
                    write(connection, POP3Response.messageFollows(octets: octets, bodyLineLimit: limit).wireBytes)
                    let content = messages.first { $0.storageKey == key }?.content ?? []
                    var stuffer = POP3ByteStuffer(bodyLineLimit: limit)
                    var output: [UInt8] = []
                    // Small chunks, so chunk boundaries fall inside lines as they do with real reads.
                    var offset = 0
                    while offset < content.count {
                        let end = min(offset + 7, content.count)
                        if !stuffer.encode(content[offset..<end], into: &output) { break }
                        offset = end
                    }
                    stuffer.finish(into: &output)
                    write(connection, output)
                    queue += machine.messageSent()
                case .commit(let deleted, let retrieved):
                    lock.withLock { recordedCommits.append((deleted, retrieved)) }
                    queue += machine.updateFinished(success: true)
                case .close, .startTLS:
                    isOpen = false
                }
            }
            guard isOpen else { break }
            let count = read(connection, &buffer, buffer.count)
            if count <= 0 { break }
            queue += machine.receive(buffer[0..<count])
        }
    }

    private func write(_ connection: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(connection, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            offset += written
        }
    }
}
