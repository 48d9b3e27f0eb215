// ParseFailure: a problem found on one line of an accounts file, before the caller adds file and line.

/// A line's problem, turned into ``AccountsError/syntax(file:line:message:)`` by the caller who knows where.
struct ParseFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
