// TLSSessionDataTests: application data after the handshake: both directions, large and drip-fed transfers,
// tampered records, close_notify and writes in the wrong state.
import Foundation
import PostOfficeCore
import Testing

@testable import PostOfficeTLS

@Suite("TLS application data")
struct TLSSessionDataTests {
    /// An established client/server pair over TLS `version`.
    static func establishedPair(
        maximumVersion: TLSProtocolVersion? = nil, dripFeed: Bool = false
    ) throws -> (InMemoryWire, CertificateFixture) {
        let fixture = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext())
        let client = try TLSSession(
            context: TLSContext.makeClient(verifyingPeer: false, maximumVersion: maximumVersion)
        )
        let wire = InMemoryWire(client: client, server: server, dripFeed: dripFeed)
        let outcome = wire.handshake()
        try #require(outcome.client == .complete && outcome.server == .complete)
        return (wire, fixture)
    }

    @Test("data flows both ways", arguments: [nil, TLSProtocolVersion.tls12], [false, true])
    func bothDirections(maximumVersion: TLSProtocolVersion?, dripFeed: Bool) throws {
        let (wire, _) = try Self.establishedPair(maximumVersion: maximumVersion, dripFeed: dripFeed)
        let greeting = Array("220 mail.example.test ESMTP\r\n".utf8)
        #expect(try wire.transfer(greeting, from: wire.server, to: wire.client) == greeting)
        let command = Array("EHLO client.example\r\n".utf8)
        #expect(try wire.transfer(command, from: wire.client, to: wire.server) == command)
    }

    @Test("a transfer larger than many records arrives intact", arguments: [1, 16_384, 16_385, 200_000])
    func largeTransfer(size: Int) throws {
        let (wire, _) = try Self.establishedPair()
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
        let received = try wire.transfer(payload, from: wire.client, to: wire.server)
        #expect(received == payload)
    }

    @Test("one read returns at most one record's plaintext and then wantMore")
    func readChunking() throws {
        let (wire, _) = try Self.establishedPair()
        try wire.client.writePlaintext([UInt8](repeating: 0x61, count: 40_000))
        wire.server.receiveFromNetwork(wire.client.takeNetworkOutput())
        var buffer: [UInt8] = []
        var counts: [Int] = []
        while case .bytes(let count) = try wire.server.readPlaintext(into: &buffer) { counts.append(count) }
        #expect(counts.allSatisfy { $0 <= TLSSession.maximumRecordPlaintext })
        #expect(counts.reduce(0, +) == 40_000)
        #expect(buffer.count == 40_000)
        #expect(try wire.server.readPlaintext(into: &buffer) == .wantMore)
    }

    @Test("a tampered record is a protocol violation, not a crash", arguments: [0, 5, 20])
    func tamperedRecord(offsetFromEnd: Int) throws {
        let (wire, _) = try Self.establishedPair()
        try wire.client.writePlaintext(Array("RETR 1\r\n".utf8))
        var ciphertext = wire.client.takeNetworkOutput()
        let index = ciphertext.count - 1 - offsetFromEnd
        ciphertext[index] ^= 0x01
        wire.server.receiveFromNetwork(ciphertext)
        var buffer: [UInt8] = []
        let error = capture { try wire.server.readPlaintext(into: &buffer) }
        #expect(error?.kind == .protocolViolation)
        #expect(buffer.isEmpty)
        #expect(OpenSSLErrorQueue.isEmpty)
        #expect(wire.server.hasNetworkOutput, "a bad_record_mac alert is queued for the peer")
        #expect(wire.server.protocolVersion == "TLSv1.3", "parameters stay readable for the log")
        #expect(capture { try wire.server.writePlaintext([1]) } == error)
    }

    @Test("close_notify from the client reads as closed; the server answers and stops writing")
    func closeNotify() throws {
        let (wire, _) = try Self.establishedPair()
        wire.client.shutdown()
        let closeNotify = wire.client.takeNetworkOutput()
        #expect(!closeNotify.isEmpty)
        wire.server.receiveFromNetwork(closeNotify)
        var buffer: [UInt8] = []
        #expect(try wire.server.readPlaintext(into: &buffer) == .closed)
        #expect(try wire.server.readPlaintext(into: &buffer) == .closed)
        #expect(wire.server.isClosedByPeer)
        wire.server.shutdown()
        #expect(wire.server.hasNetworkOutput)
        #expect(capture { try wire.server.writePlaintext([1]) }?.kind == .closed)
        #expect(capture { try wire.client.writePlaintext([1]) }?.kind == .closed)
        #expect(wire.server.protocolVersion == "TLSv1.3", "parameters stay readable for the log")
    }

    @Test("plaintext written before the handshake completes is refused")
    func writeBeforeHandshake() throws {
        let fixture = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext())
        #expect(capture { try server.writePlaintext(Array("220 hi\r\n".utf8)) }?.kind == .handshakeIncomplete)
        #expect(!server.hasNetworkOutput)
        #expect(server.takeNetworkOutput().isEmpty)
        server.shutdown()
        #expect(!server.hasNetworkOutput, "no close_notify before a handshake")
        #expect(server.handshake().failure?.kind == .closed)
    }

    @Test("readPlaintext drives the handshake when called first")
    func readDrivesHandshake() throws {
        let fixture = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext())
        let client = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false))
        var buffer: [UInt8] = []
        #expect(client.handshake() == .incomplete)
        server.receiveFromNetwork(client.takeNetworkOutput())
        #expect(try server.readPlaintext(into: &buffer) == .wantMore)
        client.receiveFromNetwork(server.takeNetworkOutput())
        #expect(client.handshake() == .complete)
        try client.writePlaintext(Array("QUIT\r\n".utf8))
        server.receiveFromNetwork(client.takeNetworkOutput())
        #expect(try server.readPlaintext(into: &buffer) == .bytes(6))
        #expect(buffer == Array("QUIT\r\n".utf8))
        #expect(server.isEstablished)
    }

    @Test("data sent together with the client's Finished is readable as soon as the handshake completes")
    func dataWithFinished() throws {
        let fixture = try CertificateFixture()
        let server = try TLSSession(context: fixture.serverContext())
        let client = try TLSSession(context: TLSContext.makeClient(verifyingPeer: false))
        #expect(client.handshake() == .incomplete)
        server.receiveFromNetwork(client.takeNetworkOutput())
        #expect(server.handshake() == .incomplete)
        client.receiveFromNetwork(server.takeNetworkOutput())
        #expect(client.handshake() == .complete)
        try client.writePlaintext(Array("EHLO client.example\r\n".utf8))
        server.receiveFromNetwork(client.takeNetworkOutput())  // Finished and the first record, in one read.
        #expect(server.handshake() == .complete)
        var buffer: [UInt8] = []
        #expect(try server.readPlaintext(into: &buffer) == .bytes(21))
        #expect(buffer == Array("EHLO client.example\r\n".utf8))
    }

    @Test("receiveFromNetwork accepts any collection of bytes")
    func nonContiguousInput() throws {
        let (wire, _) = try Self.establishedPair()
        try wire.client.writePlaintext(Array("NOOP\r\n".utf8))
        let ciphertext = wire.client.takeNetworkOutput()
        wire.server.receiveFromNetwork(ciphertext.lazy.map { $0 })
        var buffer: [UInt8] = []
        #expect(try wire.server.readPlaintext(into: &buffer) == .bytes(6))
    }

    @Test("an empty write produces no output")
    func emptyWrite() throws {
        let (wire, _) = try Self.establishedPair()
        _ = wire.server.takeNetworkOutput()
        try wire.server.writePlaintext([])
        #expect(!wire.server.hasNetworkOutput)
    }
}
