// TLSErrorQueueTests: one session's OpenSSL errors never leak into another session's error or success.
import Foundation
import PostOfficeCore
import Testing
import COpenSSL

@testable import PostOfficeTLS

@Suite("OpenSSL error queue isolation")
struct TLSErrorQueueTests {
    @Test("a failed session leaves nothing behind for the next one on the same thread")
    func noLeakBetweenSessions() throws {
        let fixture = try CertificateFixture()
        let context = try fixture.serverContext()

        let broken = try TLSSession(context: context)
        broken.receiveFromNetwork(Array("GET / HTTP/1.0\r\n\r\n".utf8))
        let first = try #require(broken.handshake().failure)
        #expect(OpenSSLErrorQueue.isEmpty)

        // A second, differently broken session reports only its own problem.
        let legacy = try TLSSession(
            context: TLSContext.makeClient(verifyingPeer: false, minimumVersion: .tls10, maximumVersion: .tls10)
        )
        let refusing = try TLSSession(context: context)
        let outcome = InMemoryWire(client: legacy, server: refusing).handshake()
        let second = try #require(outcome.server.failure)
        #expect(second.messages.allSatisfy { !first.messages.contains($0) })
        #expect(second.messages.contains { $0.contains("unsupported protocol") })

        // And a healthy session afterwards succeeds.
        let server = try TLSSession(context: context)
        let client = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false))
        let healthy = InMemoryWire(client: client, server: server).handshake()
        #expect(healthy.server == .complete)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test("errors left on the thread by someone else do not poison a session")
    func staleErrorsIgnored() throws {
        let fixture = try CertificateFixture()
        let context = try fixture.serverContext()
        // Leave an error on this thread's queue, as unrelated OpenSSL code might.
        #expect(BIO_new_file("/nonexistent/postoffice", "r") == nil)
        #expect(!OpenSSLErrorQueue.isEmpty)
        let server = try TLSSession(context: context)
        let client = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false))
        let outcome = InMemoryWire(client: client, server: server).handshake()
        #expect(outcome.server == .complete)
        #expect(outcome.client == .complete)
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test("a drained error reads well in a log line")
    func description() {
        let error = TLSError(.handshake, operation: "SSL_do_handshake", messages: ["a", "b"])
        #expect(error.description == "TLS handshake in SSL_do_handshake: a; b")
        let fileError = TLSError(.fileSystem, operation: "open", systemErrno: 13)
        #expect(fileError.description == "TLS fileSystem in open (errno 13)")
    }
}
