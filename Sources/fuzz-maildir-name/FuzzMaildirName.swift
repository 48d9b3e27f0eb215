// fuzz-maildir-name: libFuzzer target for MaildirFilename: parse and format must be total and stable
// (format(parse(x)) parses to the same value and formats to the same text), and ordering consistent.

import PostOfficeFuzzSupport
import PostOfficeMaildir

@main
struct FuzzMaildirName {
    static func main() {
        FuzzEntry.run(name: "fuzz-maildir-name") { bytes in
            // Two names separated by 0xFF: each round-trips, and the pair orders consistently.
            let parts = bytes.split(separator: 0xFF, maxSplits: 1, omittingEmptySubsequences: false)
            let names = parts.map { String(decoding: $0, as: UTF8.self) }.compactMap(checkRoundTrip)
            if names.count == 2 {
                let (a, b) = (names[0], names[1])
                precondition(!(a < a) && !(b < b), "ordering is not irreflexive")
                precondition(!(a < b && b < a), "ordering is not asymmetric")
                if a == b { precondition(!(a < b), "equal names ordered") }
            }
        }
    }

    /// Returns the parsed name after checking its round trip, or nil when the text is not a name.
    static func checkRoundTrip(_ text: String) -> MaildirFilename? {
        guard let name = MaildirFilename(text) else { return nil }
        precondition(MaildirFilename.isValidBase(name.base), "parsed an invalid base from \(Array(text.utf8))")
        let formatted = name.description
        guard let again = MaildirFilename(formatted) else {
            preconditionFailure("formatted name does not parse: \(Array(formatted.utf8))")
        }
        precondition(again == name, "parse(format(x)) != x for \(Array(text.utf8))")
        // Bytes, not String ==: Swift compares strings by canonical equivalence and by grapheme clusters
        // (a prepended mark such as U+0602 joins the ":" after it), while file names are bytes.
        precondition(again.description.utf8.elementsEqual(formatted.utf8), "format is not stable for \(Array(text.utf8))")
        precondition(again.base.utf8.elementsEqual(name.base.utf8), "base bytes changed for \(Array(text.utf8))")
        precondition(formatted.utf8.starts(with: name.base.utf8) && name.nameWithoutInfo.utf8.starts(with: name.base.utf8),
            "base not first")
        // Setting the sizes and flags keeps the name parseable to the same values.
        var edited = name
        edited.size = 1234
        edited.virtualSize = 1300
        edited.flags = edited.flags.union("S")
        guard let reparsed = MaildirFilename(edited.description) else {
            preconditionFailure("edited name does not parse: \(Array(edited.description.utf8))")
        }
        precondition(reparsed.size == 1234 && reparsed.virtualSize == 1300 && reparsed.flags.contains(UInt8(ascii: "S")),
            "edited fields lost in \(Array(edited.description.utf8))")
        precondition(!formatted.utf8.contains(0) && !formatted.utf8.contains(UInt8(ascii: "/")), "NUL or / in a name")
        return name
    }
}
