// LiveTestSupport: small helpers shared by the live end-to-end tests — the repository root, test message
// bodies with dot lines, line-ending normalisation, the process's resident memory, and smtplib sending.

import Foundation
import PostOffice
import PostOfficeTesting

enum LiveTestSupport {
    /// The repository root, found from this file's path (Tests/PostOfficeTests/LiveTestSupport.swift).
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A message of about `size` bytes with `\n` line endings: headers, then numbered lines, some of which
    /// start with `.` or `..`, one that is a lone `.`, and one that is a lone `..`.
    static func message(size: Int, subject: String, from: String = "sender@example.net", to: String) -> String {
        var text = "From: \(from)\nTo: \(to)\nSubject: \(subject)\nMessage-ID: <\(subject.replacingOccurrences(of: " ", with: "-"))@example.net>\n\n"
        var number = 0
        while text.utf8.count < size {
            number += 1
            switch number % 17 {
            case 3: text += ".\n"
            case 5: text += "..\n"
            case 7: text += ".leading dot on line \(number)\n"
            case 11: text += "..two leading dots on line \(number)\n"
            default: text += "line \(number) of \(subject): the quick brown fox jumps over the lazy dog 0123456789\n"
            }
        }
        return text
    }

    /// `text` with every CRLF turned into LF (lone CRs and LFs are left as they are).
    static func normalized(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n")
    }

    /// The stored or fetched message minus the trace headers the server adds (Return-Path, Delivered-To,
    /// Received), with CRLF turned into LF.
    static func withoutTrace(_ text: String) -> String {
        RealClientSMTPTests.strippingTrace(normalized(text))
    }

    /// This process's resident set size in bytes (VmRSS of /proc/self/status), or nil off Linux.
    static func residentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return digits.map { $0 * 1024 }
        }
        return nil
    }

    /// A fresh temporary folder.
    static func temporaryDirectory(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "postoffice-live-\(label)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Files (not starting with `.`) in `directory`, sorted.
    static func files(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Sends one message with Python's smtplib; returns the tool result (status 0 when every recipient took it).
    static func sendWithSmtplib(
        _ office: TestPostOffice, from: String, to recipients: [String], message: String
    ) throws -> ToolResult {
        let script = """
            import smtplib, sys
            s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname='client.example.net')
            refused = s.sendmail(sys.argv[3], sys.argv[4:], sys.stdin.buffer.read())
            assert refused == {}, refused
            s.quit()
            """
        return try ExternalTool.python(
            script, [office.smtpAddress.host, String(office.smtpAddress.port), from] + recipients,
            input: Data(crlf(message).utf8))
    }

    /// `text` with CRLF line endings. smtplib sends bytes as given, and a bare LF does not end an SMTP line
    /// (so a dot after it is not un-stuffed, as RFC 5321 §4.5.2 only speaks of CRLF-terminated lines).
    static func crlf(_ text: String) -> String {
        normalized(text).replacingOccurrences(of: "\n", with: "\r\n")
    }
}
