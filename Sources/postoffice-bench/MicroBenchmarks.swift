// MicroBenchmarks: `postoffice-bench micro` — the protocol engines and storage helpers timed in memory,
// without sockets or disk: SMTP command handling, DATA decoding, POP3 byte-stuffing, Maildir name parsing,
// CRLF→LF conversion, DKIM verification (MicroBenchmarks+DKIM.swift), SPF and DMARC (MicroBenchmarks+SPF.swift). Run it from a release build.

import PostOfficeDKIM
import PostOfficeDelivery
import PostOfficeMaildir
import PostOfficePOP3
import PostOfficeSMTP

/// The engine micro-benchmarks; each reports the median of five runs of a fixed amount of work.
struct MicroBenchmarks {
    /// Read size the server uses for sockets and files; inputs are fed in chunks of this size.
    static let chunkSize = 64 * 1024

    /// Scales every work count (0.1 for a quick smoke run).
    var scale = 1.0
    /// Runs only these groups (smtp, pop3, maildir, crlf, dkim, spf); nil runs all.
    var groups: Set<String>? = nil

    /// Runs every benchmark and returns the measurements in order.
    func run(progress: (RepeatedMeasurement) -> Void) -> [RepeatedMeasurement] {
        var sink: UInt64 = 0
        var results: [RepeatedMeasurement] = []
        func record(_ measurement: RepeatedMeasurement) {
            results.append(measurement)
            progress(measurement)
        }
        func wanted(_ group: String) -> Bool { groups?.contains(group) ?? true }
        if wanted("smtp") {
            record(smtpCommands(&sink))
            for size in [1024, 100 * 1024] {
                record(smtpDataDecode(size: size, &sink))
            }
            for size in [1024, 100 * 1024] {
                record(smtpDataThroughEngine(size: size, &sink))
            }
        }
        if wanted("pop3") {
            for size in [1024, 100 * 1024] {
                record(pop3ByteStuffing(size: size, &sink))
            }
        }
        if wanted("maildir") { record(maildirNames(&sink)) }
        if wanted("crlf") {
            for size in [1024, 100 * 1024] {
                record(lineEndingConversion(size: size, &sink))
            }
        }
        if wanted("dkim") {
            for keyType in DKIMKeyType.allCases {
                record(dkimVerification(keyType, cached: true, &sink))
                record(dkimVerification(keyType, cached: false, &sink))
                record(signatureCheckAlone(keyType, &sink))
            }
            record(hashingOnly(&sink))
        }
        // Only with --only dkimrsa: the cached RSA verify ten times over, a steady load for `perf record`.
        if groups?.contains("dkimrsa") == true { for _ in 0..<10 { record(dkimVerification(.rsa, cached: true, &sink)) } }
        if wanted("spf") {
            for cached in [true, false] {
                record(spfCheck(cached: cached, &sink))
                record(dmarcEvaluation(cached: cached, &sink))
            }
        }
        if sink == 42 { print("") }  // keeps `sink` (and so the measured work) alive
        return results
    }

    func count(_ base: Int) -> Int { max(1, Int(Double(base) * scale)) }

    static func label(_ size: Int) -> String { size >= 1024 ? "\(size / 1024) KB" : "\(size) B" }

    /// Feeds `bytes` in read-sized chunks.
    static func chunks(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        stride(from: 0, to: bytes.count, by: chunkSize).map { bytes[$0..<min($0 + chunkSize, bytes.count)] }
    }

    // MARK: SMTP

    /// Pipelined MAIL, RCPT, RSET, NOOP groups through the session engine, answering its checks at once.
    private func smtpCommands(_ sink: inout UInt64) -> RepeatedMeasurement {
        let sessions = count(200)
        let groupsPerSession = 50
        let group = Array("MAIL FROM:<sender.name@example.net> SIZE=12345 BODY=8BITMIME\r\nRCPT TO:<alice@example.test>\r\nRSET\r\nNOOP\r\n".utf8)
        let ehlo = Array("EHLO client.example.net\r\n".utf8)
        let configuration = SMTPServerConfiguration(hostname: "mail.example.test")
        var measurement = RepeatedMeasurement(
            name: "SMTP commands (parse + engine)", unit: "commands/s",
            workPerRun: Double(sessions * (groupsPerSession * 4 + 1)))
        measurement.measure(sink: &sink) {
            var replies: UInt64 = 0
            for _ in 0..<sessions {
                var engine = SMTPServerStateMachine(configuration: configuration)
                replies &+= UInt64(engine.start().count)
                replies &+= Self.settle(&engine, engine.receive(ehlo))
                for _ in 0..<groupsPerSession {
                    replies &+= Self.settle(&engine, engine.receive(group))
                }
            }
            return replies
        }
        return measurement
    }

    /// Carries out `actions`, accepting every check, and counts the replies sent.
    private static func settle(_ engine: inout SMTPServerStateMachine, _ actions: [SMTPAction]) -> UInt64 {
        var queue = actions[...]
        var replies: UInt64 = 0
        while let action = queue.popFirst() {
            switch action {
            case .send: replies += 1
            case .checkSender: queue.append(contentsOf: engine.resolveSender(.accept))
            case .checkRecipient: queue.append(contentsOf: engine.resolveRecipient(.accept))
            case .commitMessage: queue.append(contentsOf: engine.resolveMessage(.accept))
            case .appendMessage(let bytes): replies &+= UInt64(bytes.count)
            default: break
            }
        }
        return replies
    }

    /// The DATA decoder alone: dot-unstuffing and end-of-data detection.
    private func smtpDataDecode(size: Int, _ sink: inout UInt64) -> RepeatedMeasurement {
        let corpus = MessageCorpus(size: size)
        let pieces = Self.chunks(corpus.wire)
        let messages = count(size >= 100 * 1024 ? 400 : 40_000)
        var measurement = RepeatedMeasurement(
            name: "SMTP DATA decode, \(Self.label(size))", unit: "MB/s",
            workPerRun: Double(messages * corpus.wire.count) / 1e6)
        measurement.measure(sink: &sink) {
            var produced: UInt64 = 0
            for _ in 0..<messages {
                var decoder = SMTPDataDecoder(maximumMessageSize: 25 << 20)
                for piece in pieces {
                    produced &+= UInt64(decoder.decode(piece).content.count)
                }
            }
            return produced
        }
        return measurement
    }

    /// A whole transaction through the session engine (MAIL, RCPT, DATA, content, dot), content in reads.
    private func smtpDataThroughEngine(size: Int, _ sink: inout UInt64) -> RepeatedMeasurement {
        let corpus = MessageCorpus(size: size)
        let envelope = Array("MAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n".utf8)
        let pieces = Self.chunks(corpus.wire)
        let messages = count(size >= 100 * 1024 ? 400 : 20_000)
        let configuration = SMTPServerConfiguration(hostname: "mail.example.test")
        var measurement = RepeatedMeasurement(
            name: "SMTP transaction via engine, \(Self.label(size))", unit: "MB/s",
            workPerRun: Double(messages * corpus.wire.count) / 1e6)
        measurement.measure(sink: &sink) {
            var engine = SMTPServerStateMachine(configuration: configuration)
            var total = UInt64(engine.start().count)
            total &+= Self.settle(&engine, engine.receive(Array("EHLO client.example.net\r\n".utf8)))
            for _ in 0..<messages {
                total &+= Self.settle(&engine, engine.receive(envelope))
                for piece in pieces {
                    total &+= Self.settle(&engine, engine.receive(piece))
                }
            }
            return total
        }
        return measurement
    }

    // MARK: POP3, Maildir, delivery

    /// RETR's wire encoding of a stored message: LF→CRLF and dot-stuffing, in file-read chunks.
    private func pop3ByteStuffing(size: Int, _ sink: inout UInt64) -> RepeatedMeasurement {
        let corpus = MessageCorpus(size: size)
        let pieces = Self.chunks(corpus.stored)
        let messages = count(size >= 100 * 1024 ? 400 : 40_000)
        var measurement = RepeatedMeasurement(
            name: "POP3 byte-stuffing, \(Self.label(size))", unit: "MB/s",
            workPerRun: Double(messages * corpus.stored.count) / 1e6)
        measurement.measure(sink: &sink) {
            var produced: UInt64 = 0
            var output: [UInt8] = []
            for _ in 0..<messages {
                var stuffer = POP3ByteStuffer(bodyLineLimit: nil)
                for piece in pieces {
                    output.removeAll(keepingCapacity: true)
                    stuffer.encode(piece, into: &output)
                    produced &+= UInt64(output.count)
                }
                stuffer.finish(into: &output)
            }
            return produced
        }
        return measurement
    }

    /// Parsing of realistic Maildir file names (what every POP3 login scans).
    private func maildirNames(_ sink: inout UInt64) -> RepeatedMeasurement {
        let names: [String] = (0..<1000).map { i in
            let base = "\(1_763_860_000 + i).M\(100_000 + i * 37)P\(4000 + i % 97)Q\(i % 13).mail.example.test"
            switch i % 4 {
            case 0: return base + ",S=\(1000 + i),W=\(1030 + i)"
            case 1: return base + ",S=\(1000 + i),W=\(1030 + i):2,S"
            case 2: return base + ":2,RS"
            default: return base
            }
        }
        let rounds = count(200)
        var measurement = RepeatedMeasurement(
            name: "Maildir name parsing", unit: "names/s", workPerRun: Double(rounds * names.count))
        measurement.measure(sink: &sink) {
            var total: UInt64 = 0
            for _ in 0..<rounds {
                for name in names {
                    if let parsed = MaildirFilename(name) { total &+= UInt64(parsed.size ?? 1) }
                }
            }
            return total
        }
        return measurement
    }

    /// Delivery's CRLF→LF conversion (with the W= line count), in read-sized chunks.
    private func lineEndingConversion(size: Int, _ sink: inout UInt64) -> RepeatedMeasurement {
        let corpus = MessageCorpus(size: size)
        let pieces = Self.chunks(corpus.decodedCRLF)
        let messages = count(size >= 100 * 1024 ? 400 : 40_000)
        var measurement = RepeatedMeasurement(
            name: "LineEndingConverter CRLF→LF, \(Self.label(size))", unit: "MB/s",
            workPerRun: Double(messages * corpus.decodedCRLF.count) / 1e6)
        measurement.measure(sink: &sink) {
            var produced: UInt64 = 0
            var output: [UInt8] = []
            for _ in 0..<messages {
                var converter = LineEndingConverter()
                for piece in pieces {
                    output.removeAll(keepingCapacity: true)
                    piece.withUnsafeBytes { converter.convert($0, into: &output) }
                }
                converter.finish(into: &output)
                produced &+= UInt64(converter.virtualSize)
            }
            return produced
        }
        return measurement
    }
}
