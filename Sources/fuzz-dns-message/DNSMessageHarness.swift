// DNSMessageHarness: byte 0 picks the chunk sizes for the TCP framer; the payload is one DNS message.
// Checks: decode never traps; decode → encode → decode is the identity; the payload fed to a query engine
// as a datagram from the right server, and length-framed in drips over TCP, never traps either.

import PostOfficeCore
import PostOfficeDNS
import PostOfficeFuzzSupport

enum DNSMessageHarness {
    static let server = DNSServerAddress(address: IPAddress("127.0.0.53")!)
    static let configuration = DNSResolverConfiguration(servers: [server], timeoutSeconds: 1, attempts: 1)

    static func check(_ bytes: [UInt8]) {
        let input = FuzzInput(bytes, headerCount: 1)
        let payload = Array(input.payload.prefix(DNSMessage.maxLength))
        roundTrip(payload)
        drive(payload, chunkSeed: input.header[0])
    }

    static func roundTrip(_ payload: [UInt8]) {
        guard let message = try? DNSMessage(decoding: payload) else { return }
        let encoded: [UInt8]
        do {
            encoded = try message.encoded()
        } catch {
            // Names behind pointers into raw RDATA cannot always be re-compressed: the only allowed failure
            // is that the uncompressed form no longer fits 65535 octets.
            guard case .tooLong = error else { preconditionFailure("re-encoding failed: \(error)") }
            return
        }
        let again: DNSMessage
        do {
            again = try DNSMessage(decoding: encoded)
        } catch {
            preconditionFailure("own encoding does not decode: \(error)")
        }
        precondition(again == message, "round trip changed the message")
    }

    /// The engine accepts the payload only when it answers the query; with a random ID that is rare, so
    /// the payload's own ID and question are patched in when it has them.
    static func drive(_ payload: [UInt8], chunkSeed: UInt8) {
        let question = DNSQuestion(name: try! DNSName("example.com"), type: .mx)
        var engine = DNSQueryEngine(question: question, configuration: configuration, random: SeededRandomSource(seed: 7))
        guard case .send(let query) = engine.start() else { preconditionFailure("no first query") }
        var datagram = payload
        if datagram.count >= 2 {
            datagram[0] = query.bytes[0]
            datagram[1] = query.bytes[1]
        }
        switch engine.receiveDatagram(datagram, from: server) {
        case .send(let next) where next.transport == .tcp:
            // The TCP query has a fresh ID; the answer over TCP takes it too.
            var answer = datagram
            answer[0] = next.bytes[2]
            answer[1] = next.bytes[3]
            let framed = DNSStreamFramer.frame(answer)
            for chunk in FuzzInput.chunks(of: framed, seeds: [chunkSeed, chunkSeed &+ 3]) {
                if case .finished = engine.receiveStream(chunk) { break }
            }
        case .send, .wait, .finished:
            break
        }
    }
}
