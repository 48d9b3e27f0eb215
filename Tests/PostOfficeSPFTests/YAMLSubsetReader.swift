// YAMLSubsetReader: just enough YAML for the OpenSPF test suite (rfc7208-tests.yml): "---" documents,
// block mappings and sequences by indentation, plain/quoted/flow scalars, and block scalars (>-, |) whose
// text the tests never compare, so they are folded loosely. Not a general YAML parser.

/// A node of the YAML subset.
indirect enum YAMLNode: Equatable {
    case scalar(String)
    case sequence([YAMLNode])
    case mapping([(key: String, value: YAMLNode)])

    static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs, rhs) {
        case (.scalar(let a), .scalar(let b)): a == b
        case (.sequence(let a), .sequence(let b)): a == b
        case (.mapping(let a), .mapping(let b)): a.map(\.key) == b.map(\.key) && a.map(\.value) == b.map(\.value)
        default: false
        }
    }

    subscript(key: String) -> YAMLNode? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    var string: String? {
        if case .scalar(let text) = self { return text }
        return nil
    }

    var items: [YAMLNode] {
        if case .sequence(let items) = self { return items }
        return []
    }

    var entries: [(key: String, value: YAMLNode)] {
        if case .mapping(let entries) = self { return entries }
        return []
    }
}

struct YAMLSubsetReader {
    struct Line {
        var indent: Int
        var text: Substring
    }

    private let lines: [Line]

    /// Every document of a multi-document stream.
    static func documents(_ text: String) -> [YAMLNode] {
        var documents: [[Line]] = [[]]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if raw == "---" || raw.hasPrefix("--- ") { documents.append([]); continue }
            let body = raw.drop { $0 == " " }
            if body.isEmpty || body.hasPrefix("#") { continue }
            documents[documents.count - 1].append(Line(indent: raw.count - body.count, text: body))
        }
        return documents.filter { !$0.isEmpty }.map { lines in
            var index = 0
            return YAMLSubsetReader(lines: lines).node(at: &index, indent: lines[0].indent)
        }
    }

    private init(lines: [Line]) { self.lines = lines }

    private func node(at index: inout Int, indent: Int) -> YAMLNode {
        guard index < lines.count else { return .scalar("") }
        let line = lines[index]
        if line.text == "-" || line.text.hasPrefix("- ") { return sequence(at: &index, indent: line.indent) }
        return mapping(at: &index, indent: line.indent, first: nil)
    }

    private func sequence(at index: inout Int, indent: Int) -> YAMLNode {
        var items: [YAMLNode] = []
        while index < lines.count, lines[index].indent == indent, lines[index].text.hasPrefix("-") {
            let item = lines[index].text.dropFirst().drop { $0 == " " }
            let itemIndent = indent + (lines[index].text.count - item.count)
            if item.isEmpty {
                index += 1
                items.append(index < lines.count && lines[index].indent > indent ? node(at: &index, indent: lines[index].indent) : .scalar(""))
            } else if Self.splitKey(item) != nil {
                items.append(mapping(at: &index, indent: itemIndent, first: item))
            } else {
                index += 1
                items.append(Self.value(continued(item, at: &index, indent: indent)))
            }
        }
        return .sequence(items)
    }

    /// A block mapping at `indent`; `first` is an entry that began on a "- " line.
    private func mapping(at index: inout Int, indent: Int, first: Substring?) -> YAMLNode {
        var entries: [(key: String, value: YAMLNode)] = []
        var pending = first
        while true {
            let text: Substring
            if let first = pending {
                text = first
                pending = nil
            } else {
                guard index < lines.count, lines[index].indent == indent, !lines[index].text.hasPrefix("- ") else { break }
                text = lines[index].text
            }
            index += 1
            guard let (key, rest) = Self.splitKey(text) else { break }
            let value: YAMLNode
            if rest.isEmpty {
                if index < lines.count, lines[index].indent > indent || (lines[index].indent == indent && lines[index].text.hasPrefix("- ")) {
                    value = node(at: &index, indent: lines[index].indent)
                } else {
                    value = .scalar("")
                }
            } else if rest.first == ">" || rest.first == "|" {
                var parts: [Substring] = []
                while index < lines.count, lines[index].indent > indent { parts.append(lines[index].text); index += 1 }
                value = .scalar(parts.joined(separator: rest.first == ">" ? " " : "\n"))
            } else {
                value = Self.value(continued(rest, at: &index, indent: indent))
            }
            entries.append((key, value))
        }
        return .mapping(entries)
    }

    /// A plain or quoted scalar may continue on more-indented lines.
    private func continued(_ text: Substring, at index: inout Int, indent: Int) -> String {
        var result = String(text)
        while index < lines.count, lines[index].indent > indent, !(lines[index].text.hasPrefix("- ")) {
            result += " " + lines[index].text
            index += 1
        }
        return result
    }

    /// "key: value" or "key:" (the key possibly quoted).
    private static func splitKey(_ text: Substring) -> (String, Substring)? {
        if text.first == "\"" || text.first == "'" {
            guard let close = text.dropFirst().firstIndex(of: text.first!) else { return nil }
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            return (String(text[text.index(after: text.startIndex)..<close]), after.dropFirst().drop { $0 == " " })
        }
        // The key ends at the first ":" followed by a space or the end ("foo:bar/baz.example.com:" is a key).
        guard !text.hasPrefix("["),
            let colon = text.indices.first(where: { text[$0] == ":" && (text.index(after: $0) == text.endIndex || text[text.index(after: $0)] == " ") })
        else { return nil }
        let after = text[text.index(after: colon)...]
        let key = text[..<colon]
        guard !key.contains(" ") else { return nil }
        return (String(key), after.drop { $0 == " " })
    }

    /// A flow sequence "[a, 'b']" or a plain, 'single' or "double" quoted scalar.
    static func value(_ text: String) -> YAMLNode {
        let trimmed = Substring(text).trimmingSpaces
        if trimmed.first == "[" { return .sequence(flowItems(String(trimmed)).map(YAMLNode.scalar)) }
        var index = trimmed.startIndex
        return .scalar(quoted(trimmed, &index) ?? String(trimmed))
    }

    /// Items of a flow sequence "[a, 'b', "c"]".
    static func flowItems(_ text: String) -> [String] {
        var body = Substring(text).trimmingSpaces
        guard body.first == "[", body.last == "]" else { return [String(body)] }
        body = body.dropFirst().dropLast()
        var items: [String] = []
        var index = body.startIndex
        while index < body.endIndex {
            while index < body.endIndex, body[index] == " " { index = body.index(after: index) }
            guard index < body.endIndex else { break }
            if let value = quoted(body, &index) {
                items.append(value)
                while index < body.endIndex, body[index] != "," { index = body.index(after: index) }
            } else {
                let end = body[index...].firstIndex(of: ",") ?? body.endIndex
                items.append(String(body[index..<end].trimmingSpaces))
                index = end
            }
            if index < body.endIndex { index = body.index(after: index) }
        }
        return items
    }

    /// Reads a quoted scalar starting at `index`, leaving `index` after the closing quote; nil if unquoted.
    private static func quoted(_ text: Substring, _ index: inout Substring.Index) -> String? {
        let scalars = text.unicodeScalars
        guard index < text.endIndex, let quote = text[index].unicodeScalars.first, quote == "\"" || quote == "'" else { return nil }
        var position = scalars.index(after: index)
        var result = String.UnicodeScalarView()
        while position < scalars.endIndex {
            let scalar = scalars[position]
            position = scalars.index(after: position)
            if scalar == quote {
                if quote == "'", position < scalars.endIndex, scalars[position] == "'" {
                    result.append("'")
                    position = scalars.index(after: position)
                    continue
                }
                break
            }
            if quote == "\"" && scalar == "\\", position < scalars.endIndex {
                let escape = scalars[position]
                position = scalars.index(after: position)
                switch escape {
                case "0": result.append("\u{0}")
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                case "x", "u":
                    let count = escape == "x" ? 2 : 4
                    var hex = ""
                    for _ in 0..<count where position < scalars.endIndex {
                        hex.unicodeScalars.append(scalars[position])
                        position = scalars.index(after: position)
                    }
                    result.append(Unicode.Scalar(UInt32(hex, radix: 16) ?? 0x3f) ?? "?")
                default: result.append(escape)
                }
                continue
            }
            result.append(scalar)
        }
        index = position
        return String(result)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
