// PhysicalLine: one line of an accounts file as read, and the splitting that makes them. Splits on LF
// by Unicode scalar, because Swift treats CR LF as a single Character and would not split it.

/// A line of a file, with its 1-based number.
struct PhysicalLine: Hashable, Sendable {
    /// 1-based line number, for error messages.
    var number: Int
    /// The line as read, without LF (a CR before the LF is kept, so rewriting is faithful).
    var raw: String

    /// The line without a trailing CR.
    var content: String { raw.hasSuffix("\r") ? String(raw.dropLast()) : raw }

    /// Splits `text` at LF. A final LF does not start another (empty) line.
    static func split(_ text: String) -> [PhysicalLine] {
        guard !text.isEmpty else { return [] }
        var pieces = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        if text.unicodeScalars.last == "\n" { pieces.removeLast() }
        return pieces.enumerated().map { offset, scalars in
            PhysicalLine(number: offset + 1, raw: String(String.UnicodeScalarView(scalars)))
        }
    }
}
