// ProxyHeaderDecoderTests: the PROXY protocol header decoder against tables of valid and invalid v1 lines and
// v2 blocks, fed whole, a byte at a time and in seeded random splits: a prefix of a valid header is always
// "incomplete", the client's bytes after the header come back untouched, and invalid input never completes.

import Testing
import PostOfficeCore

@Suite struct ProxyHeaderDecoderTests {
    typealias Endpoint = ProxyHeader.Endpoint

    /// A v2 header: signature, version 2 with `command`, `family`, the length and the block.
    static func v2(command: UInt8 = 0x21, family: UInt8 = 0x11, block: [UInt8], length: Int? = nil) -> [UInt8] {
        let size = length ?? block.count
        return ProxyHeaderDecoder.signature + [command, family, UInt8(size >> 8), UInt8(size & 0xFF)] + block
    }

    static let ipv4Block: [UInt8] = [192, 0, 2, 7, 198, 51, 100, 1, 0xDC, 0x04, 0x00, 25]
    static let ipv6Block: [UInt8] =
        [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [7]
        + [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1] + [0xDC, 0x04, 0x00, 25]
    static let mappedBlock: [UInt8] =
        Array(repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 5] + Array(repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1]
        + [0x30, 0x39, 0x01, 0xBB]
    static let tlvs: [UInt8] = [0x01, 0x00, 0x04, 0x73, 0x6D, 0x74, 0x70, 0x04, 0x00, 0x00]  // ALPN "smtp", NOOP
    static let longestV1 = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"

    static func proxied(_ version: ProxyHeader.Version, _ source: Endpoint, _ destination: Endpoint, _ length: Int) -> ProxyHeader {
        ProxyHeader(version: version, command: .proxy, source: source, destination: destination, length: length)
    }

    static let client4 = Endpoint(host: "192.0.2.7", port: 56324)
    static let server4 = Endpoint(host: "198.51.100.1", port: 25)
    static let client6 = Endpoint(host: "2001:db8::7", port: 56324)
    static let server6 = Endpoint(host: "2001:db8::1", port: 25)

    /// (name, header bytes, what it decodes to).
    static let valid: [(String, [UInt8], ProxyHeader)] = [
        ("v1 TCP4", Array("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n".utf8), proxied(.one, client4, server4, 44)),
        ("v1 TCP6", Array("PROXY TCP6 2001:db8::7 2001:db8::1 56324 25\r\n".utf8), proxied(.one, client6, server6, 45)),
        ("v1 TCP6 long form", Array("PROXY TCP6 2001:DB8:0:0:0:0:0:7 2001:db8::1 56324 25\r\n".utf8),
         proxied(.one, client6, server6, 54)),
        ("v1 TCP6 IPv4-mapped", Array("PROXY TCP6 ::ffff:127.0.0.5 ::1 0 65535\r\n".utf8),
         proxied(.one, Endpoint(host: "127.0.0.5", port: 0), Endpoint(host: "::1", port: 65535), 41)),
        ("v1 TCP6 longest", Array("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n".utf8),
         proxied(.one, Endpoint(host: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", port: 65535),
                 Endpoint(host: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", port: 65535), 104)),
        ("v1 UNKNOWN", Array("PROXY UNKNOWN\r\n".utf8),
         ProxyHeader(version: .one, command: .proxy, source: nil, destination: nil, length: 15)),
        ("v1 UNKNOWN 107 bytes", Array(longestV1.utf8),
         ProxyHeader(version: .one, command: .proxy, source: nil, destination: nil, length: 107)),
        ("v2 PROXY TCP4", v2(block: ipv4Block), proxied(.two, client4, server4, 28)),
        ("v2 PROXY TCP6", v2(family: 0x21, block: ipv6Block), proxied(.two, client6, server6, 52)),
        ("v2 PROXY TCP6 IPv4-mapped", v2(family: 0x21, block: mappedBlock),
         proxied(.two, Endpoint(host: "127.0.0.5", port: 12345), Endpoint(host: "127.0.0.1", port: 443), 52)),
        ("v2 PROXY TCP4 with TLVs", v2(block: ipv4Block + tlvs), proxied(.two, client4, server4, 38)),
        ("v2 PROXY UNSPEC", v2(family: 0x00, block: []),
         ProxyHeader(version: .two, command: .proxy, source: nil, destination: nil, length: 16)),
        ("v2 PROXY UNIX", v2(family: 0x31, block: Array(repeating: 0x61, count: 216)),
         ProxyHeader(version: .two, command: .proxy, source: nil, destination: nil, length: 232)),
        ("v2 LOCAL", v2(command: 0x20, family: 0x00, block: []),
         ProxyHeader(version: .two, command: .local, source: nil, destination: nil, length: 16)),
        ("v2 LOCAL ignores its addresses", v2(command: 0x20, family: 0x11, block: ipv4Block),
         ProxyHeader(version: .two, command: .local, source: nil, destination: nil, length: 28)),
        ("v2 LOCAL with an odd family", v2(command: 0x20, family: 0x52, block: [1, 2, 3]),
         ProxyHeader(version: .two, command: .local, source: nil, destination: nil, length: 19)),
    ]

    /// (name, bytes, the kind of error).
    static let invalid: [(String, [UInt8], String)] = [
        ("SMTP command", Array("EHLO client.test\r\n".utf8), "missingSignature"),
        ("lower case", Array("proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n".utf8), "missingSignature"),
        ("PROXY without space", Array("PROXYTCP4 192.0.2.7 198.51.100.1 1 2\r\n".utf8), "missingSignature"),
        ("TLS ClientHello", [0x16, 0x03, 0x01, 0x00, 0xF1, 0x01], "missingSignature"),
        ("three fields", Array("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n".utf8), "malformedLine"),
        ("five fields", Array("PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n".utf8), "malformedLine"),
        ("double space", Array("PROXY TCP4 192.0.2.7  198.51.100.1 1 2\r\n".utf8), "malformedLine"),
        ("trailing space", Array("PROXY TCP4 192.0.2.7 198.51.100.1 1 2 \r\n".utf8), "malformedLine"),
        ("IPv6 in TCP4", Array("PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n".utf8), "malformedLine"),
        ("IPv4 in TCP6", Array("PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n".utf8), "malformedLine"),
        ("short IPv4", Array("PROXY TCP4 192.0.2 198.51.100.1 1 2\r\n".utf8), "malformedLine"),
        ("host name", Array("PROXY TCP4 client.test 198.51.100.1 1 2\r\n".utf8), "malformedLine"),
        ("UDP4", Array("PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n".utf8), "malformedLine"),
        ("empty protocol", Array("PROXY \r\n".utf8), "malformedLine"),
        ("port 65536", Array("PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n".utf8), "malformedLine"),
        ("port with leading zero", Array("PROXY TCP4 192.0.2.7 198.51.100.1 025 25\r\n".utf8), "malformedLine"),
        ("negative port", Array("PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n".utf8), "malformedLine"),
        ("LF without CR", Array("PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n".utf8), "malformedLine"),
        ("CR without LF", Array("PROXY TCP4 192.0.2.7 198.51.100.1 1 2\rX".utf8), "malformedLine"),
        ("no CRLF in 107 bytes", Array(("PROXY UNKNOWN " + String(repeating: "a", count: 120)).utf8), "lineTooLong"),
        ("108-byte line", Array((longestV1.dropLast(1) + "0\r\n").utf8), "lineTooLong"),
        ("v2 wrong signature", Array(ProxyHeaderDecoder.signature.prefix(9)) + [0x58, 0x54, 0x0A, 0x21, 0x11, 0, 12] + ipv4Block,
         "missingSignature"),
        ("v2 version 1", v2(command: 0x11, block: ipv4Block), "unsupportedVersion"),
        ("v2 version 3", v2(command: 0x31, block: ipv4Block), "unsupportedVersion"),
        ("v2 command 2", v2(command: 0x22, block: ipv4Block), "unsupportedCommand"),
        ("v2 UDP4", v2(family: 0x12, block: ipv4Block), "unsupportedAddressFamily"),
        ("v2 UDP6", v2(family: 0x22, block: ipv6Block), "unsupportedAddressFamily"),
        ("v2 family 4", v2(family: 0x41, block: ipv4Block), "unsupportedAddressFamily"),
        ("v2 INET, transport unspecified", v2(family: 0x10, block: ipv4Block), "unsupportedAddressFamily"),
        ("v2 TCP4 block too short", v2(block: Array(ipv4Block.prefix(8))), "addressBlockTooShort"),
        ("v2 TCP6 block too short", v2(family: 0x21, block: ipv4Block), "addressBlockTooShort"),
        ("v2 UNIX block too short", v2(family: 0x31, block: ipv6Block), "addressBlockTooShort"),
        ("v2 length over the limit", v2(block: ipv4Block, length: 4097), "tooLong"),
        ("v2 length 65535", v2(block: ipv4Block, length: 65535), "tooLong"),
    ]

    static func kind(_ error: ProxyHeaderError) -> String {
        switch error {
        case .missingSignature: "missingSignature"
        case .lineTooLong: "lineTooLong"
        case .malformedLine: "malformedLine"
        case .unsupportedVersion: "unsupportedVersion"
        case .unsupportedCommand: "unsupportedCommand"
        case .unsupportedAddressFamily: "unsupportedAddressFamily"
        case .addressBlockTooShort: "addressBlockTooShort"
        case .tooLong: "tooLong"
        }
    }

    /// The bytes a client sends after the header; they must come back as the remainder, untouched.
    static let clientBytes = Array("EHLO client.test\r\nPROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8)

    /// SplitMix64: a seeded generator, so a failing split can be reproduced.
    struct Splits: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Feeds `bytes` in chunks cut at random points; returns the first final status, or incomplete.
    static func feedInRandomChunks(_ bytes: [UInt8], seed: UInt64) -> ProxyHeaderDecoder.Status {
        var generator = Splits(state: seed)
        var decoder = ProxyHeaderDecoder()
        var offset = 0
        var status = ProxyHeaderDecoder.Status.incomplete
        while offset < bytes.count {
            let size = Int.random(in: 1...max(1, min(40, bytes.count - offset)), using: &generator)
            let chunk = bytes[offset..<min(bytes.count, offset + size)]
            offset += chunk.count
            status = decoder.feed(chunk)
            guard case .incomplete = status else { break }
        }
        return status
    }

    /// A complete status, with the remainder re-joined with the bytes fed after it.
    static func fed(_ bytes: [UInt8], seed: UInt64) -> (ProxyHeader, [UInt8])? {
        var generator = Splits(state: seed)
        var decoder = ProxyHeaderDecoder()
        var offset = 0
        while offset < bytes.count {
            let size = Int.random(in: 1...max(1, min(40, bytes.count - offset)), using: &generator)
            let chunk = bytes[offset..<min(bytes.count, offset + size)]
            offset += chunk.count
            switch decoder.feed(chunk) {
            case .incomplete: continue
            case .complete(let header, let remainder): return (header, remainder + bytes[offset...])
            case .invalid: return nil
            }
        }
        return nil
    }

    @Test(arguments: valid)
    func decodesValidHeaderWhole(_ name: String, _ bytes: [UInt8], _ expected: ProxyHeader) {
        var decoder = ProxyHeaderDecoder()
        #expect(decoder.feed(bytes + Self.clientBytes) == .complete(expected, remainder: Self.clientBytes), "\(name)")
        #expect(expected.length == bytes.count, "\(name)")
        #expect(decoder.bufferedByteCount == 0)
        // Final: later bytes change nothing.
        #expect(decoder.feed(Array("QUIT\r\n".utf8)) == .complete(expected, remainder: Self.clientBytes))
    }

    @Test(arguments: valid)
    func everyPrefixOfValidHeaderIsIncomplete(_ name: String, _ bytes: [UInt8], _ expected: ProxyHeader) {
        var decoder = ProxyHeaderDecoder()
        for (index, byte) in bytes.enumerated() {
            let status = decoder.feed([byte])
            if index < bytes.count - 1 {
                #expect(status == .incomplete, "\(name): byte \(index) of \(bytes.count)")
                #expect(decoder.bufferedByteCount == index + 1)
            } else {
                #expect(status == .complete(expected, remainder: []), "\(name)")
            }
        }
    }

    @Test(arguments: valid)
    func decodesValidHeaderInRandomSplits(_ name: String, _ bytes: [UInt8], _ expected: ProxyHeader) {
        for seed in UInt64(1)...60 {
            let result = Self.fed(bytes + Self.clientBytes, seed: seed)
            #expect(result?.0 == expected, "\(name), seed \(seed)")
            #expect(result?.1 == Self.clientBytes, "\(name), seed \(seed)")
        }
    }

    @Test(arguments: invalid)
    func refusesInvalidHeader(_ name: String, _ bytes: [UInt8], _ expectedKind: String) {
        var whole = ProxyHeaderDecoder()
        guard case .invalid(let error) = whole.feed(bytes + Self.clientBytes) else {
            Issue.record("\(name): not refused")
            return
        }
        #expect(Self.kind(error) == expectedKind, "\(name): \(error)")
        #expect(!error.description.isEmpty)
        #expect(whole.bufferedByteCount == 0)
        #expect(whole.feed(Array("PROXY UNKNOWN\r\n".utf8)) == .invalid(error), "\(name): refusal is final")
        // A byte at a time and in random splits: the same refusal, never a header.
        var single = ProxyHeaderDecoder()
        var status = ProxyHeaderDecoder.Status.incomplete
        for byte in bytes + Self.clientBytes {
            status = single.feed([byte])
            guard case .incomplete = status else { break }
        }
        #expect(status == .invalid(error), "\(name): byte at a time")
        for seed in UInt64(1)...30 {
            #expect(Self.feedInRandomChunks(bytes + Self.clientBytes, seed: seed) == .invalid(error), "\(name), seed \(seed)")
        }
    }

    @Test func wrongSignatureIsRefusedAtTheFirstWrongByte() {
        var decoder = ProxyHeaderDecoder()
        #expect(decoder.feed(Array("PROX".utf8)) == .incomplete)
        #expect(decoder.feed(Array("Y".utf8)) == .incomplete)
        #expect(decoder.feed(Array("!".utf8)) == .invalid(.missingSignature))
        var binary = ProxyHeaderDecoder()
        #expect(binary.feed([0x0D, 0x0A, 0x0D]) == .incomplete)
        #expect(binary.feed([0x0D]) == .invalid(.missingSignature))
    }

    @Test func holdsNoMoreThanOneHeader() {
        // A v1 line without CRLF is refused once it cannot fit in 107 bytes, whatever arrives after.
        var line = ProxyHeaderDecoder()
        for _ in 0..<200 {
            if case .invalid(let error) = line.feed(Array("PROXY ".utf8) + [UInt8](repeating: 0x61, count: 10)) {
                #expect(error == .lineTooLong)
                break
            }
            #expect(line.bufferedByteCount < ProxyHeaderDecoder.maximumLineLength)
        }
        #expect(line.status == .invalid(.lineTooLong))
        // A v2 block is refused as soon as its length field is over the bound, before its bytes arrive.
        var block = ProxyHeaderDecoder(maximumV2Length: 64)
        #expect(block.feed(Self.v2(block: [], length: 65)) == .invalid(.tooLong(length: 65, maximum: 64)))
        var waiting = ProxyHeaderDecoder(maximumV2Length: 64)
        #expect(waiting.feed(Self.v2(block: Self.ipv4Block, length: 64)) == .incomplete)
        #expect(waiting.bufferedByteCount == 28)
    }
}
