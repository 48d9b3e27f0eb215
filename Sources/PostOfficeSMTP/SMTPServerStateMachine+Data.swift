// SMTPServerStateMachine+Data: the DATA and BDAT commands and the message content that follows them.
// DATA content is unstuffed by SMTPDataDecoder; BDAT chunks are counted bytes, never commands.

import PostOfficeCore

extension SMTPServerStateMachine {
    /// DATA ([RFC 5321 §4.1.1.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.4)): 354, then the
    /// content goes through SMTPDataDecoder until `CRLF.CRLF`.
    mutating func data(_ out: inout [SMTPAction]) {
        guard let current = transaction else { return reply(.needMail, &out) }
        // RFC 3030 §3: no DATA after BDAT, and BINARYMIME content only with BDAT.
        guard !current.usesChunking, current.mailParameters.body != .binaryMIME else {
            return reply(.dataNotAllowed, &out)
        }
        guard !current.recipients.isEmpty else {
            return reply(current.recipientAttempts == 0 ? .needRecipient : .noValidRecipients, &out)
        }
        reply(.startMailInput, &out)
        guard !closed else { return }
        out.append(.beginMessage(envelope(current)))
        transaction?.messageState = .begun
        let lineLimit = configuration.limits.rejectLongTextLines ? configuration.limits.smtpTextLineLength : nil
        mode = .data(
            SMTPDataDecoder(
                maximumMessageSize: configuration.limits.maximumMessageSize, maximumLineLength: lineLimit))
    }

    /// BDAT ([RFC 3030 §2](https://www.rfc-editor.org/rfc/rfc3030#section-2)): the chunk is always read,
    /// even when it is refused.
    mutating func startChunk(size: Int, isLast: Bool, _ out: inout [SMTPAction]) {
        var failure: SMTPReply?
        var failureCount = 1
        if !configuration.isChunkingEnabled {
            failure = .commandNotImplemented
        } else if let current = transaction {
            if current.recipients.isEmpty {
                failure = current.recipientAttempts == 0 ? .needRecipient : .noValidRecipients
            } else if size > configuration.limits.maximumMessageSize - current.chunkedOctets {
                // Known before reading: drop what was stored, read the chunk, then refuse. The transaction
                // is over (RFC 3030 §2); pipelined chunks after it get 503.
                failure = .messageTooBig
                // LMTP: the last chunk's reply is one per recipient, even when it refuses (RFC 2033 §4.2).
                if isLast && configuration.flavor == .lmtp { failureCount = current.recipients.count }
                abortMessageIfBegun(&out)
                transaction = nil
            }
        } else {
            failure = .needMail
        }
        if failure == nil, let current = transaction {
            if current.messageState == .notBegun {
                out.append(.beginMessage(envelope(current)))
                transaction?.messageState = .begun
                transaction?.usesChunking = true
            }
            transaction?.chunkedOctets += size
        }
        mode = .chunk(Chunk(size: size, remaining: size, isLast: isLast, failure: failure, failureCount: failureCount))
        if size == 0 { finishChunk(&out) }
    }

    /// Feeds message content to the DATA decoder or the BDAT chunk; returns how many bytes it used.
    mutating func consumeContent(_ input: ArraySlice<UInt8>, _ out: inout [SMTPAction]) -> Int {
        switch mode {
        case .command:
            return 0
        case .data(var decoder):
            let hadFailed = decoder.hasFailed
            let output = decoder.decode(input)
            mode = .data(decoder)
            if decoder.hasFailed {
                // Content is useless once a limit is passed: no append, just the abort (once).
                if !hadFailed { abortMessageIfBegun(&out) }
            } else if !output.content.isEmpty {
                out.append(.appendMessage(output.content))
            }
            if output.isComplete { finishData(decoder, &out) }
            return output.consumedCount
        case .chunk(var chunk):
            let count = min(chunk.remaining, input.count)
            if chunk.failure == nil && count > 0 { out.append(.appendMessage(Array(input.prefix(count)))) }
            chunk.remaining -= count
            mode = .chunk(chunk)
            if chunk.remaining == 0 { finishChunk(&out) }
            return count
        }
    }

    private mutating func finishData(_ decoder: SMTPDataDecoder, _ out: inout [SMTPAction]) {
        mode = .command
        let recipients = transaction?.recipients.count ?? 0
        if decoder.isOversize {
            transaction = nil
            finalRefusal(.messageTooBig, recipients: recipients, &out)
        } else if decoder.hasOverlongLine {
            transaction = nil
            finalRefusal(.lineTooLong, recipients: recipients, &out)
        } else {
            transaction?.messageState = .finished
            pending = .message
            out.append(.commitMessage)
        }
    }

    private mutating func finishChunk(_ out: inout [SMTPAction]) {
        guard case .chunk(let chunk) = mode else { return }
        mode = .command
        if let failure = chunk.failure {
            if chunk.failureCount > 1 {
                finalRefusal(failure, recipients: chunk.failureCount, &out)
            } else {
                reply(failure, &out)
            }
        } else if chunk.isLast {
            transaction?.messageState = .finished
            pending = .message
            out.append(.commitMessage)
        } else {
            reply(.chunkReceived(octets: chunk.size), &out)
        }
    }

    private func envelope(_ transaction: Transaction) -> SMTPEnvelope {
        SMTPEnvelope(
            heloName: heloName ?? "", isExtended: isExtended, reversePath: transaction.reversePath,
            recipients: transaction.recipients, mailParameters: transaction.mailParameters,
            recipientParameters: transaction.recipientParameters, authenticatedIdentity: authenticatedIdentity)
    }
}
