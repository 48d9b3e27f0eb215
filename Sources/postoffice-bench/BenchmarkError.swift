// BenchmarkError: a one-line failure of the harness (bad option, a server that does not start, a load
// that fails), printed by main and turned into exit status 1.

/// A harness failure with a readable message.
struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
