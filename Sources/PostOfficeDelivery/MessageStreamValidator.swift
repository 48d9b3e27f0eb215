// MessageStreamValidator: refuses input that must not become a stored message — an empty message, or one
// with a NUL byte — as it streams, so `postoffice deliver` can stop before anything is stored.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// Checks a message stream for content RFC 5322 forbids: NUL anywhere
/// ([RFC 5322 §2.1](https://www.rfc-editor.org/rfc/rfc5322#section-2.1), [§3.5](https://www.rfc-editor.org/rfc/rfc5322#section-3.5)),
/// and an empty message. Both are permanent failures with code 5.6.0 (bad content).
public struct MessageStreamValidator: Sendable {
    /// Bytes inspected so far.
    public private(set) var byteCount = 0

    public init() {}

    /// Checks the next bytes.
    /// - Throws: 5.6.0 "Message contains a NUL byte" with its offset.
    public mutating func inspect(_ bytes: UnsafeRawBufferPointer) throws(DeliveryError) {
        defer { byteCount += bytes.count }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if let hit = memchr(base, 0, bytes.count) {
            let offset = byteCount + (UnsafeRawPointer(hit) - base)
            throw DeliveryError(EnhancedStatusCode(5, 6, 0), "Message contains a NUL byte at offset \(offset)")
        }
    }

    /// Call at the end of the input.
    /// - Throws: 5.6.0 "Empty message" when no byte came.
    public func finish() throws(DeliveryError) {
        if byteCount == 0 { throw DeliveryError(EnhancedStatusCode(5, 6, 0), "Empty message") }
    }
}
