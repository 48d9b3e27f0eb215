// OptionReader: walks a subcommand's arguments and parses the values options take (text, positive numbers,
// comma-separated lists, ports) with the same error messages in every `postoffice-bench` subcommand, and
// names the results folder of a run by its UTC start time.

import Foundation

/// The arguments of one subcommand, read in order.
struct OptionReader {
    private var iterator: IndexingIterator<[String]>

    init(_ arguments: [String]) {
        iterator = arguments.makeIterator()
    }

    /// The next argument (an option), or nil at the end.
    mutating func next() -> String? { iterator.next() }

    /// The value following `option`.
    mutating func value(_ option: String) throws -> String {
        guard let value = iterator.next() else { throw BenchmarkError("\(option) needs a value") }
        return value
    }

    /// The positive number following `option`.
    mutating func number(_ option: String) throws -> Int {
        try Self.positiveNumber(option, try value(option))
    }

    /// The comma-separated positive numbers following `option` (at least one).
    mutating func numbers(_ option: String) throws -> [Int] {
        let text = try value(option)
        let list = text.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        guard !list.isEmpty, list.count == text.split(separator: ",").count else {
            throw BenchmarkError("\(option) \(text): expected positive numbers separated by commas")
        }
        return list
    }

    /// The port (1-65535) following `option`.
    mutating func port(_ option: String) throws -> UInt16 {
        guard let port = UInt16(try value(option)), port > 0 else { throw BenchmarkError("\(option): expected 1-65535") }
        return port
    }

    /// `text`, the value of `option`, as a positive number.
    static func positiveNumber(_ option: String, _ text: String) throws -> Int {
        guard let number = Int(text), number > 0 else { throw BenchmarkError("\(option) \(text): expected a positive number") }
        return number
    }

    /// The current UTC time as `YYYYMMDD-hhmmss`, naming a run's results folder.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        return String(format: "%04d%02d%02d-%02d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}
