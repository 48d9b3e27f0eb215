// DSNNotifyTests: NOTIFY= parsing (RFC 3461 §4.1) — the default when absent, NEVER, and malformed values
// falling back to the default rather than silencing failure reports.

import PostOfficeDSN
import Testing

struct DSNNotifyTests {
    @Test(arguments: [
        (nil, DSNNotify.defaultWhenAbsent), ("NEVER", DSNNotify.never), ("never", .never),
        ("SUCCESS", [.success]), ("success,FAILURE", [.success, .failure]), ("DELAY", [.delay]),
        ("SUCCESS,FAILURE,DELAY", [.success, .failure, .delay]), ("NEVER,SUCCESS", .defaultWhenAbsent),
        ("BOGUS", .defaultWhenAbsent), ("", .defaultWhenAbsent), ("FAILURE,", .defaultWhenAbsent),
    ] as [(String?, DSNNotify)])
    func parses(parameter: String?, expected: DSNNotify) {
        #expect(DSNNotify(parameter: parameter) == expected)
    }

    @Test func defaultIsFailureAndDelay() {
        #expect(DSNNotify.defaultWhenAbsent == [.failure, .delay])
    }

    @Test(arguments: [("FULL", DSNReturnContent.full), ("hdrs", .headers), (nil, nil), ("ALL", nil)] as [(String?, DSNReturnContent?)])
    func parsesRET(parameter: String?, expected: DSNReturnContent?) {
        #expect(DSNReturnContent(parameter: parameter) == expected)
    }
}
