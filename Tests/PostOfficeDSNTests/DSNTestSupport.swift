// DSNTestSupport: shared fixtures for the DSN tests — addresses, attempts, a sample original — and a runner
// for python3's `email` package, the independent parser the reports are checked against.

import Foundation
import PostOfficeCore
import PostOfficeDSN

enum Fixture {
    static let alice = MailAddress(localPart: "alice", domain: "example.org")
    static let bob = MailAddress(localPart: "bob", domain: "example.net")
    static let carol = MailAddress(localPart: "carol", domain: "example.net")
    static let postmaster = MailAddress(localPart: "postmaster", domain: "mail.example.org")
    static let arrival = MailTime(seconds: 1_700_000_000)
    static let later = MailTime(seconds: 1_700_000_600)

    static func failed(_ code: String = "5.1.1", reply: String? = "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown")
        -> DSNOutcome
    {
        .failed(DSNAttempt(status: EnhancedStatusCode(code)!, remoteMTA: "mx.example.net", reply: reply, date: later))
    }

    static func delayed(warned: Bool = false) -> DSNOutcome {
        .delayed(
            DSNAttempt(status: EnhancedStatusCode(4, 4, 1), remoteMTA: "mx.example.net", reply: "421 4.4.1 try later", date: later),
            willRetryUntil: MailTime(seconds: 1_700_432_000), warned: warned)
    }

    static let delivered = DSNOutcome.delivered(DSNAttempt(status: EnhancedStatusCode(2, 0, 0), date: later))

    static let original = Array(
        """
        From: Alice <alice@example.org>\r
        To: Bob <bob@example.net>\r
        Subject: Lunch on Friday\r
        Message-ID: <lunch.1@example.org>\r
        \r
        Shall we meet at noon?\r
        -- \r
        Alice\r

        """.utf8)
}

/// The report's structure as Python's `email` package sees it.
struct ParsedReport: Decodable {
    var contentType: String
    var reportType: String?
    var headers: [String: String]
    var parts: [String]
    var text: String
    var groups: [[String: String]]
    var thirdEncoding: String?
    var innerSubject: String?
    var innerBody: String?
    var innerHeaders: String?
    var defects: [String]
}

enum PythonEmail {
    static var available: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: $0 + "/python3")
        }
    }

    static let script = """
        import email, json, sys
        msg = email.message_from_bytes(sys.stdin.buffer.read())
        def unfold(v): return str(v).replace('\\r\\n', '').replace('\\n', '')
        parts = msg.get_payload()
        third = parts[2] if len(parts) > 2 else None
        out = {
          'contentType': msg.get_content_type(), 'reportType': msg.get_param('report-type'),
          'headers': {k: unfold(v) for k, v in msg.items()},
          'parts': [p.get_content_type() for p in parts],
          'text': parts[0].get_payload(decode=True).decode(parts[0].get_content_charset()),
          'groups': [{k: unfold(v) for k, v in g.items()} for g in parts[1].get_payload()],
          'thirdEncoding': third.get('Content-Transfer-Encoding') if third else None,
          'defects': [type(d).__name__ for p in msg.walk() for d in p.defects],
        }
        if third is not None and third.get_content_type() == 'message/rfc822':
            inner = third.get_payload(0)
            out['innerSubject'] = inner['Subject']
            if not inner.is_multipart():
                out['innerBody'] = inner.get_payload(decode=True).decode('utf-8')
        elif third is not None:
            out['innerHeaders'] = third.get_payload()
        json.dump(out, sys.stdout)
        """

    static func parse(_ report: [UInt8]) throws -> ParsedReport {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Python reads all of stdin before it writes, so writing first cannot deadlock.
        input.fileHandleForWriting.write(Data(report))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problems = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PythonFailed(message: String(decoding: problems, as: UTF8.self))
        }
        return try JSONDecoder().decode(ParsedReport.self, from: data)
    }
}

struct PythonFailed: Error, CustomStringConvertible {
    var message: String
    var description: String { "python3 failed: \(message)" }
}
