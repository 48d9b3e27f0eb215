// ProxyHeaderHarness: the payload is decoded whole, a byte at a time and in header-chosen chunks with a
// small v2 bound. All runs must agree; a header must account for exactly its bytes (the remainder is the
// rest of the input), every shorter prefix must be incomplete, and the decoder never holds more than a header.

import PostOfficeCore
import PostOfficeFuzzSupport

enum ProxyHeaderHarness {
    /// Small, so the fuzzer reaches the v2 length bound.
    static let maximumV2Length = 300

    /// Header bytes 0-3: chunk sizes for the split run; the rest is what the proxy (or a stranger) sends.
    static func check(_ bytes: [UInt8]) {
        let input = FuzzInput(bytes, headerCount: 4)
        let payload = input.payload
        let whole = decode([payload[...]])
        let split = decode(FuzzInput.chunks(of: payload, seeds: input.header))
        let single = decode(payload.indices.map { payload[$0...$0] })
        precondition(whole == split, "the status depends on how the input was split")
        precondition(whole == single, "the status differs when fed a byte at a time")
        guard case .complete(let header, let remainder) = whole else { return }
        precondition(header.length <= payload.count, "a header longer than its input")
        precondition(remainder == Array(payload[header.length...]), "the remainder is not the bytes after the header")
        switch header.version {
        case .one: precondition(header.length <= ProxyHeaderDecoder.maximumLineLength, "a v1 line over 107 bytes")
        case .two: precondition(header.length <= 16 + maximumV2Length, "a v2 block over the bound")
        }
        precondition((header.source == nil) == (header.destination == nil), "a source without a destination")
        if let source = header.source, let destination = header.destination {
            precondition(header.command == .proxy, "LOCAL with addresses")
            precondition((0...65535).contains(source.port) && (0...65535).contains(destination.port), "port out of range")
            // The addresses read back the same from a v1 line written with them.
            let family = source.host.contains(":") || destination.host.contains(":") ? "TCP6" : "TCP4"
            if family == "TCP4" || (source.host.contains(":") && destination.host.contains(":")) {
                let line = "PROXY \(family) \(source.host) \(destination.host) \(source.port) \(destination.port)\r\n"
                var again = ProxyHeaderDecoder()
                guard case .complete(let reread, let rest) = again.feed(Array(line.utf8)) else {
                    preconditionFailure("the addresses of a header do not make a valid v1 line: \(line)")
                }
                precondition(rest.isEmpty && reread.source == source && reread.destination == destination, "v1 round trip")
            }
        }
        // Every strict prefix of a header is incomplete, never invalid.
        var prefix = ProxyHeaderDecoder(maximumV2Length: maximumV2Length)
        precondition(prefix.feed(payload[..<(header.length - 1)]) == .incomplete, "a prefix of a header was final")
    }

    private static func decode(_ chunks: [ArraySlice<UInt8>]) -> ProxyHeaderDecoder.Status {
        var decoder = ProxyHeaderDecoder(maximumV2Length: maximumV2Length)
        var consumed = 0
        for (index, chunk) in chunks.enumerated() {
            let status = decoder.feed(chunk)
            consumed += chunk.count
            switch status {
            case .incomplete:
                precondition(decoder.bufferedByteCount == consumed, "incomplete but not holding what it was given")
                precondition(decoder.bufferedByteCount < 16 + maximumV2Length, "holds more than one header")
            case .complete(let header, let remainder):
                // Bytes after the ones this chunk ended with belong to the client too.
                let rest = chunks[(index + 1)...].flatMap { $0 }
                return .complete(header, remainder: remainder + rest)
            case .invalid:
                precondition(decoder.bufferedByteCount == 0, "a refused decoder holds bytes")
                return status
            }
        }
        return decoder.status
    }
}
