// ExactText: a String used as a cache key by its exact UTF-8 bytes. String's own `==` equates canonically
// equivalent texts (which byte-wise parsers read differently) and its generic byte comparison ran per byte;
// this compares with one memcmp and hashes the bytes in one call. Shared by the parsed-record caches.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A text compared and hashed byte for byte (its UTF-8), never by Unicode canonical equivalence.
public struct ExactText: Hashable, Sendable {
    /// The text, stored as contiguous UTF-8.
    public let text: String

    public init(_ text: String) {
        var text = text
        text.makeContiguousUTF8()
        self.text = text
    }

    public static func == (left: ExactText, right: ExactText) -> Bool {
        var leftText = left.text
        var rightText = right.text
        return leftText.withUTF8 { leftBytes in
            rightText.withUTF8 { rightBytes in
                guard leftBytes.count == rightBytes.count else { return false }
                guard let leftBase = leftBytes.baseAddress, let rightBase = rightBytes.baseAddress else { return true }
                return memcmp(leftBase, rightBase, leftBytes.count) == 0
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
