// SendmailHeadersTests: the pure logic of `postoffice sendmail` — address lists for -t (folding, groups,
// comments), Bcc removal, Date/From/Message-ID only when missing, the "." line and -i, the 1 MiB header bound,
// the command line, and the engine delivering through a real transaction in any chunking.

import PostOfficeCore
@testable import PostOfficeDelivery
import Testing

@Suite struct SendmailHeadersTests {
    static func headers(_ text: String) -> SendmailHeaders { SendmailHeaders(Array(text.utf8)) }

    @Test func foldedRecipientFieldsAreUnfolded() {
        let headers = Self.headers("To: Alice <alice@x.test>,\n  \"Bob\n B\" <bob@x.test>\r\nCC: team: carol@x.test,\n\tdave@x.test;\nSubject: to: not@this.test\nbcc: eve\n")
        let found = headers.recipients(defaultDomain: "host.test")
        #expect(found.addresses.map(\.description) == ["alice@x.test", "bob@x.test", "carol@x.test", "dave@x.test", "eve@host.test"])
        #expect(found.invalid.isEmpty)
    }

    @Test func duplicatesAreDeliveredOnce() {
        let found = Self.headers("To: a@x.test\nCc: A@X.test, b@x.test\n").recipients(defaultDomain: "h")
        #expect(found.addresses.map(\.description) == ["a@x.test", "b@x.test"])
    }

    @Test func resentHeadersWinWhenPresent() {
        let headers = Self.headers("To: old@x.test\nResent-To: new@x.test\nResent-Bcc: hidden@x.test\n")
        #expect(headers.recipients(defaultDomain: "h").addresses.map(\.description) == ["new@x.test", "hidden@x.test"])
    }

    @Test func badAddressIsNamedWithItsField() {
        let found = Self.headers("To: ok@x.test, broken@\n").recipients(defaultDomain: "h")
        #expect(found.invalid == ["To: broken@"])
    }

    @Test func bccIsRemovedWithItsContinuationLines() {
        var headers = Self.headers("To: a@x.test\nBcc: b@x.test,\n c@x.test\nSubject: s\nRESENT-BCC: d@x.test\n")
        headers.removeBlindCopies()
        #expect(String(decoding: headers.bytes, as: UTF8.self) == "To: a@x.test\nSubject: s\n")
    }

    @Test func missingFieldsAreAddedOnlyWhenMissing() {
        var bare = Self.headers("Subject: s\n")
        bare.addMissing(date: "D", from: "F", messageID: "<M@h>")
        #expect(String(decoding: bare.bytes, as: UTF8.self) == "Subject: s\nDate: D\nFrom: F\nMessage-ID: <M@h>\n")

        let complete = "date: Mon, 1 Jan 2024 00:00:00 +0000\nFROM: me@x.test\nMessage-Id: <given@x.test>\n"
        var full = Self.headers(complete)
        full.addMissing(date: "D", from: "F", messageID: "<M@h>")
        #expect(String(decoding: full.bytes, as: UTF8.self) == complete)
    }

    @Test func bytesAreKeptExactlyAndALastLineGetsItsLineFeed() {
        #expect(Self.headers("A: 1\r\nB:2\r\n\tmore\r\nC: 3").bytes == Array("A: 1\r\nB:2\r\n\tmore\r\nC: 3\n".utf8))
    }

    @Test(arguments: [
        (nil, "a@x.test"),
        ("Alice Smith", "Alice Smith <a@x.test>"),
        ("Smith, \"Al\"", "\"Smith, \\\"Al\\\"\" <a@x.test>"),
        ("Zoë", "=?UTF-8?B?Wm/Dqw==?= <a@x.test>"),
        ("evil\nBcc: x@y.test", "\"evilBcc: x@y.test\" <a@x.test>"),
    ] as [(String?, String)])
    func fromValue(_ name: String?, _ expected: String) {
        #expect(SendmailHeaders.fromValue(address: "a@x.test", fullName: name) == expected)
    }

    @Test func longNonASCIINamesAreSplitIntoShortEncodedWords() {
        let value = SendmailHeaders.fromValue(address: "a@x.test", fullName: String(repeating: "é", count: 60))
        let words = value.split(separator: " ").dropLast()
        #expect(words.count == 3)
        #expect(words.allSatisfy { $0.count <= 75 && $0.hasPrefix("=?UTF-8?B?") })
    }

    @Test func messageIDUsesTheInjectedRandomSource() {
        let first = SendmailHeaders.messageID(random: SeededRandomSource(seed: 1), hostname: "mx.test")
        #expect(first == SendmailHeaders.messageID(random: SeededRandomSource(seed: 1), hostname: "mx.test"))
        #expect(first.hasPrefix("<") && first.hasSuffix("@mx.test>") && first.count == 2 + 24 + 8)
    }
}

extension SendmailHeadersTests {
    @Suite struct AddressLists {
        static func parse(_ text: String) -> [String] {
            AddressListParser.parse(text, defaultDomain: "host.test").addresses.map(\.description)
        }

        @Test(arguments: [
            ("a@x.test", ["a@x.test"]),
            ("a@x.test, b@y.test", ["a@x.test", "b@y.test"]),
            ("\"Smith, John\" <j@x.test>, Bob <bob@x.test>", ["j@x.test", "bob@x.test"]),
            ("bob@x.test (Bob, the (nested) builder), c@x.test", ["bob@x.test", "c@x.test"]),
            ("Bob (comment <not@this>) <bob@x.test>", ["bob@x.test"]),
            ("Team: a@x.test, B <b@x.test>;, c@x.test", ["a@x.test", "b@x.test", "c@x.test"]),
            ("undisclosed-recipients:;", []),
            ("<@relay.test,@other.test:a@x.test>", ["a@x.test"]),
            ("\"a b\"@x.test", ["\"a b\"@x.test"]),
            ("root", ["root@host.test"]),
            ("a @ x.test", ["a@x.test"]),
            ("a@x.test,,b@x.test,", ["a@x.test", "b@x.test"]),
            ("<>", []),
        ])
        func addresses(_ text: String, _ expected: [String]) {
            #expect(Self.parse(text) == expected)
        }

        @Test(arguments: ["a@", "@x.test", "<a@x.test", "\"open@x.test", "a@b@\"c\""])
        func invalidEntriesAreReported(_ text: String) {
            #expect(!AddressListParser.parse(text, defaultDomain: "host.test").invalid.isEmpty)
        }

        @Test func singleTakesExactlyOne() {
            #expect(AddressListParser.single("<bob@x.test>", defaultDomain: "h")?.description == "bob@x.test")
            #expect(AddressListParser.single("www-data", defaultDomain: "h")?.description == "www-data@h")
            #expect(AddressListParser.single("a@x.test, b@x.test", defaultDomain: "h") == nil)
        }
    }

    @Suite struct HeaderBlock {
        /// Feeds `text` `chunk` bytes at a time, then ends the input.
        static func split(_ text: String, chunk: Int, limit: Int = 1 << 20) throws(DeliveryError) -> HeaderBlockCollector.Split {
            var collector = HeaderBlockCollector(limit: limit)
            let bytes = Array(text.utf8)
            var index = 0
            while index < bytes.count {
                let end = min(bytes.count, index + chunk)
                let result: Result<HeaderBlockCollector.Split?, DeliveryError> = bytes[index..<end].withUnsafeBytes { pointer in
                    Result { () throws(DeliveryError) in try collector.append(pointer) }
                }
                if let split = try result.get() { return split }
                index = end
            }
            return try collector.finish()
        }

        @Test(arguments: [1, 3, 64])
        func splitsAtTheEmptyLine(_ chunk: Int) throws {
            let split = try Self.split("From someone Mon Jan 1\nA: 1\n b\nB: 2\r\n\r\nbody\n", chunk: chunk)
            #expect(split.header == Array("A: 1\n b\nB: 2\r\n".utf8))
            #expect(Array(split.header.count > 0 ? split.rest.prefix(2) : []) == [0x0D, 0x0A])
            #expect(!split.needsSeparator)
        }

        @Test func aBodyWithoutEmptyLineGetsOne() throws {
            let split = try Self.split("Subject: s\nhello world\n", chunk: 5)
            #expect(split.header == Array("Subject: s\n".utf8))
            #expect(split.rest == Array("hello world\n".utf8))
            #expect(split.needsSeparator)
            let noHeaders = try Self.split(" indented first\n", chunk: 100)
            #expect(noHeaders.header.isEmpty && noHeaders.needsSeparator)
        }

        @Test func allHeadersWithoutBody() throws {
            let split = try Self.split("Subject: s\nTo: a@x", chunk: 4)
            #expect(split.header == Array("Subject: s\nTo: a@x".utf8))
            #expect(split.rest.isEmpty)
        }

        @Test func headerBlockOverTheLimitIsADataError() {
            #expect(throws: DeliveryError.self) { try Self.split("X: " + String(repeating: "a", count: 2000) + "\n\nbody", chunk: 100, limit: 1024) }
            #expect(throws: DeliveryError.self) { try Self.split("X: " + String(repeating: "a", count: 2000) + "\n\nbody", chunk: 5000, limit: 1024) }
            #expect(throws: DeliveryError.self) { try Self.split("X: " + String(repeating: "a", count: 2000), chunk: 5000, limit: 1024) }
            #expect(throws: Never.self) { try Self.split("X: short\n\n" + String(repeating: "b", count: 5000), chunk: 100, limit: 1024) }
        }
    }

    @Suite struct DotLine {
        static func filter(_ text: String, chunk: Int) -> (String, Bool) {
            var terminator = DotLineTerminator()
            var output: [UInt8] = []
            let bytes = Array(text.utf8)
            var index = 0
            while index < bytes.count {
                let end = min(bytes.count, index + chunk)
                bytes[index..<end].withUnsafeBytes { terminator.filter($0, into: &output) }
                index = end
            }
            terminator.finish()
            return (String(decoding: output, as: UTF8.self), terminator.hasEnded)
        }

        @Test(arguments: [1, 2, 5, 1000])
        func aLoneDotLineEndsTheInput(_ chunk: Int) {
            #expect(Self.filter("a\n.\nafter\n", chunk: chunk) == ("a\n", true))
            #expect(Self.filter("a\r\n.\r\nafter\r\n", chunk: chunk) == ("a\r\n", true))
            #expect(Self.filter(".\n", chunk: chunk) == ("", true))
            #expect(Self.filter("a\n.", chunk: chunk) == ("a\n", true))
        }

        @Test(arguments: [1, 3, 1000])
        func otherDotsPassUnchanged(_ chunk: Int) {
            let text = "..\n.a\n. \n.\rx\na.\nb\n.."
            #expect(Self.filter(text, chunk: chunk) == (text, false))
        }
    }

    @Suite struct Arguments {
        static func parse(_ arguments: [String]) throws -> SendmailArguments {
            try SendmailArguments.parse(arguments).get()
        }

        @Test func theUsualCommandLines() throws {
            let mailx = try Self.parse(["-i", "-t", "-f", "me@x.test"])
            #expect(mailx.ignoresDots && mailx.extractsRecipients && mailx.sender == .given("me@x.test"))
            let php = try Self.parse(["-t", "-i", "-fwww@x.test"])
            #expect(php.sender == .given("www@x.test"))
            let cron = try Self.parse(["-FCronDaemon", "-odi", "-oem", "-oi", "-t"])
            #expect(cron.fullName == "CronDaemon" && cron.ignoresDots && cron.extractsRecipients)
            let clustered = try Self.parse(["-ti", "-bm", "-v", "a@x.test", "-F", "A Name", "b@x.test", "--", "-odd@x.test"])
            #expect(clustered.recipients == ["a@x.test", "b@x.test", "-odd@x.test"])
            #expect(clustered.fullName == "A Name")
            let data = try Self.parse(["--data=/d", "--config", "/c", "-f", "<>", "x"])
            #expect(data.dataDirectory == "/d" && data.configFile == "/c" && data.sender == .null)
            #expect(try Self.parse(["a@x.test"]).sender == .invokingUser)
            #expect(try Self.parse(["-B", "8BITMIME", "-N", "never", "-R", "hdrs", "-V", "id", "-C", "/etc/x", "-h", "3", "a"]).recipients == ["a"])
        }

        @Test(arguments: [["-bs"], ["-bp"], ["-q"], ["-f"], ["-k"], ["--smtp", "x"], ["--data"]])
        func refused(_ arguments: [String]) {
            #expect(throws: DeliverCommand.UsageError.self) { try Self.parse(arguments) }
        }
    }

    @Suite struct Submission {
        static func submit(
            _ message: String, sender: String? = "me@example.org", to recipients: [String] = [],
            options: SendmailSubmission.Options = .init(), chunk: Int = 7, fixture: DeliveryFixture
        ) -> SendmailSubmission.Outcome {
            let engine = SendmailSubmission(agent: fixture.agent) { _ in DeliveryError(EnhancedStatusCode(4, 4, 0), "remote") }
            let bytes = Array(message.utf8)
            var offset = 0
            return engine.run(sender: sender.map(fixture.address), recipients: recipients.map(fixture.address), options: options) {
                (buffer: UnsafeMutableRawBufferPointer) throws(DeliveryError) -> Int in
                let count = min(chunk, buffer.count, bytes.count - offset)
                for index in 0..<count { buffer[index] = bytes[offset + index] }
                offset += count
                return count
            }
        }

        static func stored(_ fixture: DeliveryFixture, _ user: String) -> [String] {
            fixture.storedMessages(fixture.maildir(user, domain: "example.org")).map { String(decoding: $0.bytes, as: UTF8.self) }
        }

        /// The stored message without the trace headers the transaction writes.
        static func body(_ stored: String) -> String {
            String(stored.split(separator: "\n", omittingEmptySubsequences: false)
                .drop { $0.hasPrefix("Return-Path:") || $0.hasPrefix("Delivered-To:") || $0.hasPrefix("Received:") || $0.hasPrefix("\t") }
                .joined(separator: "\n"))
        }

        @Test(arguments: [1, 7, 65536])
        func dashTDeliversToHeaderRecipientsWithoutBcc(_ chunk: Int) throws {
            let fixture = DeliveryFixture()
            let outcome = Self.submit(
                "To: Alice <alice@example.org>\nBcc: bob@example.org\nSubject: hi\n\nline\n.\nignored\n",
                options: .init(extractsRecipients: true), chunk: chunk, fixture: fixture)
            #expect(outcome.exitCode == 0, "\(outcome.reason)")
            #expect(outcome.recipients.map(\.description) == ["alice@example.org", "bob@example.org"])
            for user in ["alice", "bob"] {
                let messages = Self.stored(fixture, user)
                try #require(messages.count == 1)
                let text = Self.body(messages[0])
                #expect(text.hasPrefix("To: Alice <alice@example.org>\nSubject: hi\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nFrom: me@example.org\nMessage-ID: <"), "\(text)")
                #expect(text.hasSuffix("@mx.example.org>\n\nline\n"))
                #expect(!text.contains("Bcc") && !text.contains("ignored"))
            }
        }

        @Test func withIgnoreDotsTheDotLineIsKept() throws {
            let fixture = DeliveryFixture()
            let outcome = Self.submit(
                "Subject: s\r\n\r\nline\r\n.\r\nmore\r\n", to: ["alice@example.org"], options: .init(dotEndsInput: false), fixture: fixture)
            #expect(outcome.exitCode == 0)
            #expect(Self.body(try #require(Self.stored(fixture, "alice").first)).hasSuffix("\nline\n.\nmore\n"))
        }

        @Test func commandLineAndHeaderRecipientsTogetherNullSenderAndFullName() throws {
            let fixture = DeliveryFixture()
            let outcome = Self.submit(
                "Cc: team@example.org\n\nhello\n", sender: nil, to: ["alice@example.org"],
                options: .init(extractsRecipients: true, fullName: "Daemon"), fixture: fixture)
            #expect(outcome.exitCode == 0, "\(outcome.reason)")
            #expect(outcome.recipients.map(\.description) == ["alice@example.org", "team@example.org"])
            let stored = try #require(Self.stored(fixture, "alice").first)
            #expect(stored.hasPrefix("Return-Path: <>\n"))
            #expect(stored.contains("\nFrom: Daemon <MAILER-DAEMON@mx.example.org>\n"))
            #expect(Self.stored(fixture, "bob").count == 1)
        }

        @Test func aMessageWithoutHeadersGetsAnEmptyLineBeforeItsBody() throws {
            let fixture = DeliveryFixture()
            #expect(Self.submit("just a line\n", to: ["alice@example.org"], fixture: fixture).exitCode == 0)
            let text = Self.body(try #require(Self.stored(fixture, "alice").first))
            #expect(text.hasPrefix("Date: ") && text.hasSuffix(">\n\njust a line\n"), "\(text)")
        }

        @Test(arguments: [
            ("no recipients", "Subject: s\n\nb\n", [String](), false, Int32(64)),
            ("-t without recipients", "Subject: s\n\nb\n", [], true, 65),
            ("unknown user", "Subject: s\n\nb\n", ["nobody@example.org"], false, 67),
            ("unknown user in To", "To: nobody@example.org, alice@example.org\n\nb\n", [], true, 67),
            ("other domain", "Subject: s\n\nb\n", ["someone@elsewhere.test"], false, 75),
            ("other domain in Cc", "To: alice@example.org\nCc: x@elsewhere.test\n\nb\n", [], true, 75),
            ("bad header address", "To: alice@\n\nb\n", [], true, 65),
            ("empty", "", ["alice@example.org"], false, 65),
            ("NUL", "Subject: s\n\nb\u{0}\n", ["alice@example.org"], false, 65),
            ("mail loop", "Delivered-To: alice@example.org\n\nb\n", ["alice@example.org"], false, 65),
        ] as [(String, String, [String], Bool, Int32)])
        func failuresStoreNothing(_ name: String, _ message: String, _ recipients: [String], _ extract: Bool, _ expected: Int32) {
            let fixture = DeliveryFixture()
            let outcome = Self.submit(message, to: recipients, options: .init(extractsRecipients: extract), fixture: fixture)
            #expect(outcome.exitCode == expected, "\(name): \(outcome.statusCode) \(outcome.reason)")
            #expect(!outcome.isDelivered)
            #expect(Self.stored(fixture, "alice").isEmpty)
        }

        @Test func aHugeHeaderBlockIsRefusedWithoutStoring() {
            let fixture = DeliveryFixture()
            let message = "X-Big: " + String(repeating: "a", count: 2 << 20) + "\n\nbody\n"
            let outcome = Self.submit(message, to: ["alice@example.org"], chunk: 65536, fixture: fixture)
            #expect(outcome.exitCode == 65)
            #expect(outcome.reason.contains("Header block"))
        }

        @Test func bareNamesGoToTheHostNameOnlyWhenItIsLocal() {
            let fixture = DeliveryFixture()
            let engine = SendmailSubmission(agent: fixture.agent) { _ in DeliveryError(EnhancedStatusCode(4, 4, 0), "remote") }
            #expect(engine.bareNameDomain == "mx.example.org")
            let withLocalhost = DeliveryFixture(directory: DeliveryDirectory(localDomains: ["example.org", "localhost"], users: []))
            #expect(SendmailSubmission(agent: withLocalhost.agent) { _ in DeliveryError(EnhancedStatusCode(4, 4, 0), "r") }.bareNameDomain == "localhost")
        }
    }
}
