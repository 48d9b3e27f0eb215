// DSNDateTests: RFC 5322 dates from epoch seconds, across the epoch, leap days and century years.

import PostOfficeCore
import PostOfficeDSN
import Testing

struct DSNDateTests {
    @Test(arguments: [
        (0, "Thu, 1 Jan 1970 00:00:00 +0000"),
        (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
        (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 +0000"),
        (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 +0000"),
        (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 +0000"),
    ])
    func formats(seconds: Int, expected: String) {
        #expect(DSNDate.format(MailTime(seconds: seconds)) == expected)
    }
}
