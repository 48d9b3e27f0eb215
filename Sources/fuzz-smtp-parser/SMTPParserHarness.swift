// SMTPParserHarness: one command line at a time through a fresh engine (after EHLO, optionally inside a
// transaction). Every outcome must be exactly one well-formed reply or one check; a parsed address must
// parse back to itself from its own `description`.

import PostOfficeCore
import PostOfficeFuzzSupport
import PostOfficeSMTP

enum SMTPParserHarness {
    static let configuration = SMTPServerConfiguration(hostname: "mx.fuzz.example")

    /// Byte 0 bit 0: lines are tried inside a transaction opened with SMTPUTF8 (so RCPT parses); the rest
    /// are LF-separated command lines.
    static func check(_ bytes: [UInt8]) {
        let input = FuzzInput(bytes, headerCount: 1)
        let inTransaction = input.flag(0)
        for line in input.payload.split(separator: 10, omittingEmptySubsequences: false).prefix(16) {
            var command = Array(line)
            if command.last == 13 { command.removeLast() }
            check(line: command, inTransaction: inTransaction)
        }
    }

    /// A fresh engine after EHLO (and MAIL when `inTransaction`), ready for a command.
    private static func readyEngine(inTransaction: Bool) -> SMTPServerStateMachine {
        var machine = SMTPServerStateMachine(configuration: configuration)
        _ = machine.start()
        _ = machine.receive(Array("EHLO client.example\r\n".utf8))
        if inTransaction {
            let actions = machine.receive(Array("MAIL FROM:<sender@example.org> SMTPUTF8\r\n".utf8))
            precondition(actions.count == 1, "MAIL did not ask for a decision")
            _ = machine.resolveSender(.accept)
        }
        return machine
    }

    static func check(line: [UInt8], inTransaction: Bool) {
        var machine = readyEngine(inTransaction: inTransaction)
        let actions = machine.receive(line + [13, 10])
        guard let first = actions.first else {
            // Only BDAT may answer nothing yet: its reply comes after the chunk's octets.
            precondition(line.count > 5 && String(decoding: line.prefix(5), as: UTF8.self).uppercased() == "BDAT ",
                "no answer to a command line: \(line)")
            return
        }
        switch first {
        case .checkSender(let address, let parameters):
            precondition(actions.count == 1, "more than the check for MAIL")
            guard let address else { return }
            let suffix = parameters.isSMTPUTF8 ? " SMTPUTF8" : ""
            let again = reparse("MAIL FROM:<\(address)>\(suffix)", inTransaction: false)
            guard case .checkSender(let reparsed?, _) = again else {
                preconditionFailure("MAIL FROM:<\(address)> does not parse back: \(String(describing: again))")
            }
            precondition(reparsed == address, "round trip changed \(address) into \(reparsed)")
        case .checkRecipient(let address, _):
            precondition(actions.count == 1 && inTransaction, "RCPT check outside a transaction")
            let again = reparse("RCPT TO:<\(address)>", inTransaction: true)
            guard case .checkRecipient(let reparsed, _) = again else {
                preconditionFailure("RCPT TO:<\(address)> does not parse back: \(String(describing: again))")
            }
            precondition(reparsed == address, "round trip changed \(address) into \(reparsed)")
        case .send(let reply):
            let wire = reply.wireBytes
            precondition(wire.suffix(2) == [13, 10] && (200...599).contains(reply.code), "malformed reply")
            precondition(!wire.dropLast(2).contains(10) || reply.lines.count > 1, "LF inside a one-line reply")
        case .delay:
            preconditionFailure("delay on the first error")
        default:
            preconditionFailure("unexpected first action \(first) for \(line)")
        }
    }

    private static func reparse(_ line: String, inTransaction: Bool) -> SMTPAction? {
        var machine = readyEngine(inTransaction: inTransaction)
        return machine.receive(Array(line.utf8) + [13, 10]).first
    }
}
