// DSNOriginalHeaders: reads one field (the Message-ID) from the start of the original message, so an
// embedder's report hook can tell which message a report is about. Bounded: only the given bytes are read.

/// Looks up header fields in the beginning of a message
/// ([RFC 5322 §2.2](https://www.rfc-editor.org/rfc/rfc5322#section-2.2)).
public enum DSNOriginalHeaders {
    /// The unfolded value of the first field called `name` (any case) in the header section at the start
    /// of `bytes`, without surrounding spaces; nil when there is none before the empty line (or the end).
    public static func field(named name: String, in bytes: [UInt8]) -> String? {
        let wanted = Array(name.lowercased().utf8)
        var value: [UInt8]?
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var line = bytes[lineStart..<lineEnd]
            if line.last == 0x0D { line = line.dropLast() }
            lineStart = lineEnd + 1
            if line.isEmpty { break }
            if line.first == 0x20 || line.first == 0x09 {
                value?.append(contentsOf: line)  // a continuation of the field being read
                continue
            }
            if value != nil { break }  // the wanted field is complete
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let fieldName = line[line.startIndex..<colon].map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }
            if fieldName == wanted { value = Array(line[(colon + 1)...]) }
        }
        guard let value else { return nil }
        let text = String(decoding: value, as: UTF8.self)
        return String(text.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
