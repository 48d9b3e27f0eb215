// POP3CommandHarness: invariants of POP3Command(parsing:) on arbitrary lines: no trap, arguments in their
// documented form, and keyword case never changing the result.

import PostOfficePOP3

enum POP3CommandHarness {
    /// Parses every LF-separated line of `payload` (and its keyword case-swapped twin).
    static func check(payload: [UInt8]) {
        for line in payload.split(separator: 10, omittingEmptySubsequences: false) {
            var bytes = Array(line)
            if bytes.last == 13 { bytes.removeLast() }
            check(line: bytes)
        }
    }

    static func check(line: [UInt8]) {
        let result = Result { () throws(POP3CommandError) in try POP3Command(parsing: line) }
        // Keywords are case-insensitive: swapping the case of the first word must not change the outcome.
        var swapped = line
        for index in swapped.indices {
            if swapped[index] == 32 { break }
            swapped[index] = swapCase(swapped[index])
        }
        let swappedResult = Result { () throws(POP3CommandError) in try POP3Command(parsing: swapped) }
        precondition(result == swappedResult, "keyword case changed the parse of \(line)")
        // Stable: the same bytes parse the same way twice.
        let again = Result { () throws(POP3CommandError) in try POP3Command(parsing: line) }
        precondition(result == again, "parse is not deterministic")
        guard case .success(let command) = result else {
            if case .failure(.emptyCommand) = result { precondition(line.isEmpty, "non-empty line called empty") }
            return
        }
        precondition(!line.isEmpty, "empty line parsed as a command")
        switch command {
        case .user(let name):
            precondition(!name.isEmpty && isCleanText(name), "USER name with controls or spaces")
            precondition(!name.utf8.contains(32), "USER name with a space")
        case .pass(let password):
            precondition(!password.isEmpty && isCleanText(password), "PASS with a control character")
        case .apop(let user, let digest):
            precondition(isCleanText(user) && !user.isEmpty, "APOP user with controls")
            precondition(digest.utf8.count == 32, "APOP digest not 32 characters")
            precondition(digest.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) },
                "APOP digest not lower-case hex")
        case .auth(let mechanism, let initialResponse):
            if let mechanism { precondition(!mechanism.isEmpty && isCleanText(mechanism) && mechanism == mechanism.uppercased(),
                "AUTH mechanism not upper-case clean text") }
            if let initialResponse { precondition(mechanism != nil && isCleanText(initialResponse), "AUTH response") }
        case .list(let number), .uidl(let number):
            if let number { precondition(number >= 1, "message number below 1") }
        case .retr(let number), .dele(let number):
            precondition(number >= 1, "message number below 1")
        case .top(let number, let lines):
            precondition(number >= 1 && lines >= 0, "TOP arguments out of range")
        case .stls, .capa, .stat, .noop, .rset, .quit:
            break
        }
    }

    /// Valid for a parsed argument: no C0 control or DEL.
    private static func isCleanText(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }

    private static func swapCase(_ byte: UInt8) -> UInt8 {
        switch byte {
        case 65...90: return byte + 32
        case 97...122: return byte - 32
        default: return byte
        }
    }
}
