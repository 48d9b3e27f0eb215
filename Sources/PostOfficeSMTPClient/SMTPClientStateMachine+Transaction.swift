// The transaction steps of SMTPClientStateMachine: local checks, [RSET] MAIL RCPT... DATA (one batch with
// PIPELINING), streamed dot-stuffed content or BDAT chunks, and the per-recipient and message results.

import PostOfficeCore
import PostOfficeSMTP

extension SMTPClientStateMachine {
    /// One message in flight.
    struct Transaction: Sendable {
        var message: SMTPOutboundMessage
        var sendsEightBitMIME: Bool
        var isPipelined: Bool
        var usesChunking: Bool
        var resetSent = false
        var mailSent = false
        var mailReply: SMTPReply?
        var recipientReplies: [SMTPReply?]
        var recipientsSent = 0
        var dataSent = false
        /// The reply that decided the accepted recipients: DATA refused, the final one, or a BDAT one.
        var contentReply: (reply: SMTPReply, stage: SMTPClientStage)?
        /// 354 came with no recipient accepted (pipelined): the `.` is sent and its reply means nothing.
        var isDiscardingData = false
        var stuffer: SMTPDotStuffer

        var mailAccepted: Bool { mailReply?.isPositive ?? false }
        var hasAcceptedRecipient: Bool { recipientReplies.contains { $0?.isPositive ?? false } }
    }

    /// Sends `message` (only after ``SMTPClientAction/readyForMessage``). Checks that need no server round
    /// trip come first: SMTPUTF8 not offered (5.6.7, [RFC 6531 §3.4](https://www.rfc-editor.org/rfc/rfc6531#section-3.4)),
    /// larger than SIZE (5.3.4, [RFC 1870 §6](https://www.rfc-editor.org/rfc/rfc1870#section-6)), 8-bit without
    /// 8BITMIME (asks ``SMTPClientDecisionPoint/eightBitContentWithout8BITMIME``).
    public mutating func deliver(_ message: SMTPOutboundMessage) -> [SMTPClientAction] {
        guard case .ready = phase else { return [] }
        var out: [SMTPClientAction] = []
        let offered = extensions ?? SMTPServerExtensions()
        if message.recipients.isEmpty {
            refuseLocally(message, .local(EnhancedStatusCode(5, 5, 1), "no recipients"), &out)
        } else if message.requiresSMTPUTF8 && !offered.smtpUTF8 {
            refuseLocally(message, .local(EnhancedStatusCode(5, 6, 7), "the server does not offer SMTPUTF8"), &out)
        } else if let limit = offered.sizeLimit, let size = message.size, size > limit {
            refuseLocally(
                message, .local(EnhancedStatusCode(5, 3, 4), "message size \(size) exceeds the server's limit \(limit)"),
                &out)
        } else if message.isEightBit && !offered.eightBitMIME {
            phase = .deciding(message)
            out.append(.needsDecision(.eightBitContentWithout8BITMIME))
        } else {
            begin(message, sendsEightBitMIME: message.isEightBit, &out)
        }
        return out
    }

    /// The driver's answer to ``SMTPClientDecisionPoint/eightBitContentWithout8BITMIME``.
    public mutating func resolveEightBitContent(_ resolution: SMTPEightBitResolution) -> [SMTPClientAction] {
        guard case .deciding(let message) = phase else { return [] }
        var out: [SMTPClientAction] = []
        phase = .ready
        switch resolution {
        case .convertToSevenBit: begin(message, sendsEightBitMIME: false, &out)
        case .bounce:
            // RFC 3463 X.6.3: conversion required but not supported.
            refuseLocally(message, .local(EnhancedStatusCode(5, 6, 3), "8-bit content, and the server has no 8BITMIME"), &out)
        }
        return out
    }

    /// The next chunk of content, after ``SMTPClientAction/readContent``.
    public mutating func contentAvailable(_ chunk: some Collection<UInt8>) -> [SMTPClientAction] {
        guard case .content = phase, var current = transaction else { return [] }
        var out: [SMTPClientAction] = []
        let bytes = current.stuffer.encode(chunk)
        transaction = current
        if current.usesChunking {
            guard !bytes.isEmpty else {
                out.append(.readContent)
                return out
            }
            // RFC 3030 §2: the chunk goes right after its BDAT line, unstuffed.
            out.append(.send(SMTPCommand.bdat(size: bytes.count, isLast: false).wireBytes + bytes))
            expected.append(.chunk(isLast: false))
            phase = .transaction
        } else {
            if !bytes.isEmpty { out.append(.send(bytes)) }
            out.append(.readContent)
        }
        return out
    }

    /// The content is complete: the final `.` (or `BDAT n LAST`) goes out.
    public mutating func contentEnded() -> [SMTPClientAction] {
        guard case .content = phase, var current = transaction else { return [] }
        var out: [SMTPClientAction] = []
        let bytes = current.stuffer.finish()
        transaction = current
        phase = .transaction
        if current.usesChunking {
            out.append(.send(SMTPCommand.bdat(size: bytes.count, isLast: true).wireBytes + bytes))
            expected.append(.chunk(isLast: true))
        } else {
            out.append(.send(bytes))
            expected.append(.endOfData)
        }
        return out
    }

    // MARK: Transaction steps

    private mutating func refuseLocally(
        _ message: SMTPOutboundMessage, _ cause: SMTPFailureCause, _ out: inout [SMTPClientAction]
    ) {
        let result = classify(cause, at: .mail)
        for recipient in message.recipients {
            out.append(.recipientResult(SMTPRecipientResult(recipient: recipient, result: result)))
        }
        out.append(.messageResult(result))
        phase = .ready
        out.append(.readyForMessage)
    }

    private mutating func begin(_ message: SMTPOutboundMessage, sendsEightBitMIME: Bool, _ out: inout [SMTPClientAction]) {
        let offered = extensions ?? SMTPServerExtensions()
        let chunking = configuration.usesChunking && offered.chunking
        transaction = Transaction(
            message: message, sendsEightBitMIME: sendsEightBitMIME,
            isPipelined: configuration.usesPipelining && offered.pipelining, usesChunking: chunking,
            recipientReplies: Array(repeating: nil, count: message.recipients.count),
            stuffer: SMTPDotStuffer(stuffsDots: !chunking))
        phase = .transaction
        guard transaction?.isPipelined == true else { return advance(&out) }
        // RFC 2920 §3.1: RSET, MAIL and RCPT may be grouped, and DATA ends the group.
        var batch: [UInt8] = []
        if needsReset {
            batch += SMTPCommand.rset.wireBytes
            expected.append(.reset)
            transaction?.resetSent = true
        }
        batch += mailCommand(message, offered).wireBytes
        expected.append(.mail)
        transaction?.mailSent = true
        for (index, recipient) in message.recipients.enumerated() {
            batch += recipientCommand(recipient, offered).wireBytes
            expected.append(.recipient(index))
        }
        transaction?.recipientsSent = message.recipients.count
        if !chunking {
            batch += SMTPCommand.data.wireBytes
            expected.append(.data)
            transaction?.dataSent = true
        }
        out.append(.send(batch))
    }

    /// Sends the next command once every reply due is in: one command at a time without PIPELINING, and
    /// after a pipelined batch (BDAT content starts only when the RCPT replies say someone will get it).
    private mutating func advance(_ out: inout [SMTPClientAction]) {
        guard expected.isEmpty, let current = transaction else { return }
        let offered = extensions ?? SMTPServerExtensions()
        if needsReset && !current.resetSent {
            transaction?.resetSent = true
            return send(.rset, expecting: .reset, &out)
        }
        if !current.mailSent {
            transaction?.mailSent = true
            return send(mailCommand(current.message, offered), expecting: .mail, &out)
        }
        guard current.mailAccepted else { return finishTransaction(interruption: nil, &out) }
        if current.recipientsSent < current.message.recipients.count {
            let index = current.recipientsSent
            transaction?.recipientsSent += 1
            return send(recipientCommand(current.message.recipients[index], offered), expecting: .recipient(index), &out)
        }
        guard current.hasAcceptedRecipient else {
            // MAIL was accepted: the server holds a transaction until RSET.
            needsReset = true
            return finishTransaction(interruption: nil, &out)
        }
        if current.usesChunking {
            phase = .content
            out.append(.readContent)
        } else if !current.dataSent {
            transaction?.dataSent = true
            send(.data, expecting: .data, &out)
        }
    }

    private func mailCommand(_ message: SMTPOutboundMessage, _ offered: SMTPServerExtensions) -> SMTPCommand {
        var parameters = MailParameters()
        // Each parameter only when its extension was offered: an unknown one gets 555 (RFC 5321 §4.1.1.11).
        if offered.size { parameters.size = message.size }
        if transaction?.sendsEightBitMIME == true { parameters.body = .eightBitMIME }
        if message.requiresSMTPUTF8 { parameters.isSMTPUTF8 = true }
        if offered.dsn {
            parameters.dsnReturn = message.dsnReturn
            parameters.envelopeID = message.envelopeID
        }
        return .mail(message.reversePath, parameters)
    }

    private func recipientCommand(_ recipient: SMTPOutboundMessage.Recipient, _ offered: SMTPServerExtensions)
        -> SMTPCommand
    {
        .rcpt(recipient.address, offered.dsn ? recipient.parameters : RecipientParameters())
    }

    mutating func transactionReply(_ reply: SMTPReply, to expectation: Expectation, _ out: inout [SMTPClientAction]) {
        switch expectation {
        case .reset:
            // A server that cannot reset is out of step with us: give up on this connection.
            guard reply.isPositive else { return abandon(.reply(reply), at: .reset, sendsQuit: true, &out) }
            needsReset = false
            advance(&out)
        case .mail:
            transaction?.mailReply = reply
            advance(&out)
        case .recipient(let index):
            transaction?.recipientReplies[index] = reply
            advance(&out)
        case .data:
            guard let current = transaction else { return }
            if reply.code == 354 {
                if current.mailAccepted && current.hasAcceptedRecipient {
                    phase = .content
                    out.append(.readContent)
                } else {
                    // RFC 2920 §3.1: DATA was accepted though no RCPT was; send an empty message and
                    // ignore its reply.
                    transaction?.isDiscardingData = true
                    out.append(.send(Array(".\r\n".utf8)))
                    expected.append(.endOfData)
                }
                return
            }
            if current.mailAccepted { needsReset = true }
            if current.mailAccepted && current.hasAcceptedRecipient { transaction?.contentReply = (reply, .data) }
            finishTransaction(interruption: nil, &out)
        case .endOfData:
            if transaction?.isDiscardingData == false { transaction?.contentReply = (reply, .messageContent) }
            finishTransaction(interruption: nil, &out)
        case .chunk(let isLast):
            if reply.isPositive && !isLast {
                phase = .content
                out.append(.readContent)
                return
            }
            // A refused chunk ends the message; the server keeps the transaction until RSET (RFC 3030 §2).
            if !reply.isPositive { needsReset = true }
            transaction?.contentReply = (reply, .messageContent)
            finishTransaction(interruption: nil, &out)
        default:
            break
        }
    }

    /// Reports one result per recipient and the message result. `interruption` applies to recipients still
    /// undecided (no reply yet, or accepted while the content never got its final reply).
    mutating func finishTransaction(
        interruption: (cause: SMTPFailureCause, stage: SMTPClientStage)?, _ out: inout [SMTPClientAction]
    ) {
        guard let current = transaction else { return }
        transaction = nil
        var results: [SMTPDeliveryResult] = []
        for (index, recipient) in current.message.recipients.enumerated() {
            let result: SMTPDeliveryResult
            if let mail = current.mailReply, !mail.isPositive {
                result = classify(.reply(mail), at: .mail)
            } else if let reply = current.recipientReplies[index], !reply.isPositive {
                result = classify(.reply(reply), at: .recipient)
            } else if current.recipientReplies[index] != nil, let decided = current.contentReply {
                result = classify(.reply(decided.reply), at: decided.stage)
            } else if let interruption {
                result = classify(interruption.cause, at: interruption.stage)
            } else {
                result = classify(.protocolViolation("no reply decided this recipient"), at: currentStage)
            }
            results.append(result)
            out.append(.recipientResult(SMTPRecipientResult(recipient: recipient, result: result)))
        }
        // The message is delivered when anyone got it, else deferred when anyone may still, else failed.
        let summary =
            results.first { $0.disposition == .delivered }
            ?? results.first { $0.disposition == .deferred || $0.disposition == .tryNextHost } ?? results[0]
        out.append(.messageResult(summary))
        if interruption == nil {
            phase = .ready
            out.append(.readyForMessage)
        }
    }
}
