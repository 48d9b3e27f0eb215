// MessageCorpus: realistic test messages for the micro-benchmarks — header block, text lines of varying
// length, some lines starting with a dot — in the stored form (LF) and the SMTP wire form (CRLF, dot-stuffed).

/// Deterministic sample messages of a chosen size.
struct MessageCorpus {
    /// The message as Maildir stores it: LF line ends, no dot-stuffing.
    let stored: [UInt8]
    /// The message as sent after DATA: CRLF line ends, leading dots doubled, ending in `.\r\n`.
    let wire: [UInt8]
    /// The message with CRLF line ends and no dot-stuffing (what the SMTP decoder produces).
    let decodedCRLF: [UInt8]

    /// Builds a message of about `size` bytes; every 17th body line starts with a dot.
    init(size: Int) {
        let header = """
            Return-Path: <sender@example.net>
            Received: from client.example.net (client.example.net [192.0.2.10])
            \tby mail.example.test (PostOffice) with ESMTP id 4F2A9C1B
            \tfor <alice@example.test>; Mon, 23 Nov 2026 01:23:45 +0000
            From: Sender Name <sender@example.net>
            To: Alice <alice@example.test>
            Subject: Quarterly figures and the minutes of the last meeting
            Date: Mon, 23 Nov 2026 01:23:40 +0000
            Message-ID: <20261123012340.12345@client.example.net>
            MIME-Version: 1.0
            Content-Type: text/plain; charset=utf-8


            """
        var lines: [String] = header.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let words = ["the", "quarterly", "figures", "show", "a", "steady", "rise", "in", "deliveries", "while",
                     "mailbox", "sizes", "stayed", "flat", "over", "period", "of", "review", "and", "planning"]
        var total = lines.reduce(0) { $0 + $1.utf8.count + 1 }
        var lineNumber = 0
        var seed: UInt32 = 12345
        while total < size {
            lineNumber += 1
            var line = lineNumber % 17 == 0 ? "." : ""
            // Line lengths between 20 and 78 characters, like wrapped prose.
            seed = seed &* 1_103_515_245 &+ 12345
            let target = 20 + Int(seed >> 16) % 59
            var wordIndex = Int(seed >> 8) % words.count
            while line.utf8.count < target {
                if !line.isEmpty && line != "." { line += " " }
                line += words[wordIndex % words.count]
                wordIndex += 7
            }
            if lineNumber % 23 == 0 { line = "" }
            lines.append(line)
            total += line.utf8.count + 1
        }
        var stored: [UInt8] = []
        var wire: [UInt8] = []
        var decoded: [UInt8] = []
        for line in lines {
            stored += line.utf8
            stored.append(10)
            if line.hasPrefix(".") { wire.append(UInt8(ascii: ".")) }
            wire += line.utf8
            wire += [13, 10]
            decoded += line.utf8
            decoded += [13, 10]
        }
        wire += Array(".\r\n".utf8)
        self.stored = stored
        self.wire = wire
        self.decodedCRLF = decoded
    }
}
