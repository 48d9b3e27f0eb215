// POP3MessageSizeCounter: computes a stored message's size as POP3 reports it (CRLF line endings, before
// byte-stuffing) from its LF-terminated file, chunk by chunk, for POP3MessageInfo.octets.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts octets the way ``POP3ByteStuffer`` will send them, minus stuffing and terminator: each LF not
/// preceded by CR counts two ([RFC 1939 §5](https://www.rfc-editor.org/rfc/rfc1939#section-5) sizes are
/// "exact"). A final line without LF counts as if CRLF-terminated, since the stuffer adds one.
public struct POP3MessageSizeCounter: Sendable {
    private var count = 0
    private var lastByteWasCR = false
    private var lastByteWasLF = true

    public init() {}

    /// Adds a chunk of the stored message.
    public mutating func add(_ chunk: some Collection<UInt8>) {
        if chunk.withContiguousStorageIfAvailable({ add(buffer: $0) }) == nil {
            Array(chunk).withUnsafeBufferPointer { add(buffer: $0) }
        }
    }

    /// The size so far, as sent on the wire once the message ends here.
    public var octets: Int {
        if lastByteWasLF { return count }
        return count + (lastByteWasCR ? 1 : 2)
    }

    private mutating func add(buffer: UnsafeBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        count += buffer.count
        var index = 0
        while index < buffer.count, let hit = memchr(base + index, 10, buffer.count - index) {
            let lineFeed = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
            let previousIsCR = lineFeed > 0 ? base[lineFeed - 1] == 13 : lastByteWasCR
            if !previousIsCR { count += 1 }
            index = lineFeed + 1
        }
        lastByteWasCR = base[buffer.count - 1] == 13
        lastByteWasLF = base[buffer.count - 1] == 10
    }
}
