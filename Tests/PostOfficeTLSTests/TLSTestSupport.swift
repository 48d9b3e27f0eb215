// TLSTestSupport: temporary directories with generated certificates, and an in-memory "wire" that shuttles
// ciphertext between a client and a server TLSSession (whole buffers or one byte at a time).
import Foundation
import PostOfficeCore
import PostOfficeTLS
import Testing

/// A scratch directory removed when the value is deallocated.
final class TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "postoffice-tls-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ text: String, to name: String) -> String {
        let target = file(name)
        _ = FileManager.default.createFile(atPath: target, contents: Data(text.utf8))
        return target
    }
}

/// A self-signed certificate and key on disk, and a server context built from them.
final class CertificateFixture {
    let directory = TemporaryDirectory()
    let keyType: SelfSignedCertificate.KeyType
    let hostName: String
    let certificate: SelfSignedCertificate
    let certificatePath: String
    let privateKeyPath: String

    init(keyType: SelfSignedCertificate.KeyType = .ecdsaP256, hostName: String = "mail.example.test") throws {
        self.keyType = keyType
        self.hostName = hostName
        certificate = try SelfSignedCertificate.generate(
            hostName: hostName, keyType: keyType, clock: SystemClock(), random: SeededRandomSource(seed: 7)
        )
        certificatePath = directory.file("certificate.pem")
        privateKeyPath = directory.file("key.pem")
        try certificate.write(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
    }

    func configuration(minimumVersion: TLSProtocolVersion = .tls12) -> TLSConfiguration {
        TLSConfiguration(
            certificateChainPath: certificatePath, privateKeyPath: privateKeyPath, minimumVersion: minimumVersion
        )
    }

    func serverContext(minimumVersion: TLSProtocolVersion = .tls12) throws -> TLSContext {
        try TLSContext(configuration: configuration(minimumVersion: minimumVersion))
    }
}

/// Moves ciphertext between two sessions until both handshakes settle.
struct InMemoryWire {
    let client: TLSSession
    let server: TLSSession
    /// Deliver ciphertext one byte at a time, stepping the receiver after each byte.
    var dripFeed = false

    struct Outcome {
        var client: TLSHandshakeResult
        var server: TLSHandshakeResult
    }

    func handshake() -> Outcome {
        _ = client.handshake()
        for _ in 0..<64 {
            var moved = false
            let fromClient = client.takeNetworkOutput()
            if !fromClient.isEmpty {
                _ = deliver(fromClient, to: server)
                moved = true
            }
            let fromServer = server.takeNetworkOutput()
            if !fromServer.isEmpty {
                _ = deliver(fromServer, to: client)
                moved = true
            }
            if !moved { break }
        }
        return Outcome(client: client.handshake(), server: server.handshake())
    }

    /// Feeds `bytes` (whole or dripped) and returns the receiver's handshake state afterwards.
    func deliver(_ bytes: [UInt8], to receiver: TLSSession) -> TLSHandshakeResult {
        if dripFeed {
            var result = receiver.handshake()
            for byte in bytes {
                receiver.receiveFromNetwork([byte])
                result = receiver.handshake()
            }
            return result
        }
        receiver.receiveFromNetwork(bytes)
        return receiver.handshake()
    }

    /// Sends `plaintext` from one side and reads everything the other side decrypts.
    func transfer(_ plaintext: [UInt8], from sender: TLSSession, to receiver: TLSSession) throws -> [UInt8] {
        try sender.writePlaintext(plaintext)
        let ciphertext = sender.takeNetworkOutput()
        var received: [UInt8] = []
        if dripFeed {
            for byte in ciphertext {
                receiver.receiveFromNetwork([byte])
                while case .bytes = try receiver.readPlaintext(into: &received) {}
            }
        } else {
            receiver.receiveFromNetwork(ciphertext)
            while case .bytes = try receiver.readPlaintext(into: &received) {}
        }
        return received
    }
}

extension TLSHandshakeResult {
    var failure: TLSError? {
        if case .failed(let error) = self { return error }
        return nil
    }
}

/// Runs `body` and returns the `TLSError` it threw, or nil if it succeeded; any other error is a test issue.
func capture<T>(_ body: () throws -> T) -> TLSError? {
    do {
        _ = try body()
        return nil
    } catch let error as TLSError {
        return error
    } catch {
        Issue.record("expected a TLSError, got \(error)")
        return nil
    }
}
