// HTTPRequestParser: reads the head of one HTTP/1.x request (request line and header fields, RFC 9112 §2-§5)
// from bytes as they arrive, with a size bound, and says what it is or why it is bad. Sans-I/O: bytes in, a
// verdict out; the metrics session does the socket. Only what a scrape needs: no bodies, no keep-alive.

/// The parts of a request head the metrics endpoint looks at.
struct HTTPRequest: Sendable, Equatable {
    /// The method token, as sent (methods are case-sensitive: RFC 9110 §9.1).
    var method: String
    /// The request target's path, without the query (`/metrics` of `/metrics?x=1`).
    var path: String
    /// "HTTP/1.0" or "HTTP/1.1".
    var version: String
    /// Header fields in order, names lowercased.
    var headers: [(name: String, value: String)]

    static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.path == b.path && a.version == b.version
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }
}

/// Accumulates bytes until a whole request head has arrived.
struct HTTPRequestParser {
    /// What the bytes so far amount to.
    enum Verdict: Equatable {
        /// No blank line yet: wait for more.
        case incomplete
        case request(HTTPRequest)
        /// Not an HTTP/1.x request this endpoint can read; the reason is for the 400 body and the log.
        case invalid(String)
    }

    /// The largest request head accepted; a scraper sends a few hundred bytes.
    static let maximumHeadSize = 8 * 1024

    private var buffer: [UInt8] = []
    private var isFinished = false

    /// Adds bytes and says whether a request head is complete. After a verdict other than `incomplete`,
    /// later bytes are ignored (the connection closes after one response).
    mutating func receive(_ bytes: [UInt8]) -> Verdict {
        guard !isFinished else { return .incomplete }
        let searchFrom = max(0, buffer.count - 3)
        buffer.append(contentsOf: bytes)
        guard let end = Self.endOfHead(in: buffer, from: searchFrom) else {
            if buffer.count > Self.maximumHeadSize {
                isFinished = true
                return .invalid("request head larger than \(Self.maximumHeadSize) bytes")
            }
            return .incomplete
        }
        isFinished = true
        guard end <= Self.maximumHeadSize else { return .invalid("request head larger than \(Self.maximumHeadSize) bytes") }
        return Self.parse(buffer[..<end])
    }

    /// The index just past the blank line ending the head (CRLF CRLF, or bare LF LF: RFC 9112 §2.2
    /// lets a recipient accept LF alone), searching from `start`.
    private static func endOfHead(in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    private static func parse(_ head: ArraySlice<UInt8>) -> Verdict {
        // Header text is ASCII (RFC 9110 §5.5: other octets are opaque); anything else, or a NUL, is refused.
        guard head.allSatisfy({ $0 != 0 && $0 < 0x80 }) else { return .invalid("request head is not ASCII text") }
        // Split on LF bytes: in a Swift String, CR LF is one Character and would not split on "\n".
        var lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
        while lines.last == "" { lines.removeLast() }
        // RFC 9112 §2.2: a server should ignore empty lines before the request line.
        while lines.first == "" { lines.removeFirst() }
        guard let requestLine = lines.first else { return .invalid("empty request") }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .invalid("request line is not METHOD TARGET HTTP/1.x") }
        let method = String(parts[0])
        let target = String(parts[1])
        let version = String(parts[2])
        guard !method.isEmpty, method.utf8.allSatisfy(isTokenCharacter) else { return .invalid("bad method") }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return .invalid("unsupported version \(version)") }
        // Origin form only (RFC 9112 §3.2.1): this endpoint is no proxy.
        guard target.hasPrefix("/"), target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .invalid("request target must be a path starting with /")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            // RFC 9112 §5.2: obsolete line folding is refused with 400.
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix(" "), !line.hasPrefix("\t") else {
                return .invalid("malformed header line")
            }
            let name = line[..<colon]
            // RFC 9112 §5.1: no whitespace between the field name and the colon.
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenCharacter) else { return .invalid("malformed header name") }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            headers.append((name.lowercased(), value))
        }
        // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host field gets 400.
        if version == "HTTP/1.1", headers.filter({ $0.name == "host" }).count != 1 {
            return .invalid("HTTP/1.1 request needs one Host header")
        }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        return .request(HTTPRequest(method: method, path: path, version: version, headers: headers))
    }

    /// tchar (RFC 9110 §5.6.2).
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

extension Substring {
    /// The text without leading and trailing characters from `set`.
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
