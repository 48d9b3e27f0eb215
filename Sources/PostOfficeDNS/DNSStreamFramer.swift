// DNSStreamFramer: DNS over TCP's 2-octet length prefix (RFC 7766 §8), both ways. Bytes go in as they
// arrive, in any split; whole messages come out. Sans-I/O: no sockets here.

/// Frames messages for a TCP stream and reassembles them from one.
///
/// See [RFC 7766 §8](https://www.rfc-editor.org/rfc/rfc7766#section-8) and
/// [RFC 1035 §4.2.2](https://www.rfc-editor.org/rfc/rfc1035#section-4.2.2).
public struct DNSStreamFramer: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// `message` with its big-endian length in front. `message` must be at most 65535 octets (an encoded
    /// `DNSMessage` always is).
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        precondition(message.count <= DNSMessage.maxLength, "a DNS message is at most 65535 octets")
        return [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }

    /// Adds octets read from the stream.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Octets received but not yet returned as a message.
    public var bufferedCount: Int { buffer.count - start }

    /// The next complete message, or nil until all of its octets have arrived.
    public mutating func nextMessage() -> [UInt8]? {
        guard bufferedCount >= 2 else { return nil }
        let length = Int(buffer[start]) << 8 | Int(buffer[start + 1])
        guard bufferedCount >= 2 + length else { return nil }
        let message = Array(buffer[start + 2..<start + 2 + length])
        start += 2 + length
        // Compact once the consumed prefix dominates, so a long stream does not grow the buffer forever.
        if start > 4096 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return message
    }
}
