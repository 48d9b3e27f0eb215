// SMTPMessageSink: where one SMTP message's bytes go between DATA and the final dot — a delivery transaction
// into the Maildirs, or a spool file for an embedder's delivery hook — and the reply its commit earns.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeSMTP

/// Receives one message's bytes and turns the outcome into the SMTP decision.
///
/// Failures while streaming (disk full, a loop found in the headers) are remembered and reported at the
/// final dot: the client must keep sending until then anyway (RFC 5321 §4.1.1.4), and the single reply
/// after DATA is the only place SMTP has for them.
///
/// Owned by one session; `commit()` runs on the storage pool after the session has let go of it, which
/// is what makes the unchecked Sendable sound.
final class SMTPMessageSink: @unchecked Sendable {
    private let context: ServerContext
    private let sessionID: String
    private let envelope: SMTPEnvelope
    private let recipients: [ResolvedRecipient]
    private let peer: SocketAddress
    private var transaction: DeliveryTransaction?
    private var spool: SpoolFile?
    private var failure: DeliveryError?
    private var size = 0

    init(context: ServerContext, sessionID: String, envelope: SMTPEnvelope, recipients: [ResolvedRecipient], connection: Connection) {
        self.context = context
        self.sessionID = sessionID
        self.envelope = envelope
        self.recipients = recipients
        self.peer = connection.peer
        let queueID = context.deliveryAgent.makeQueueID()
        let trace = TraceInfo(
            sessionID: sessionID, queueID: queueID, heloName: envelope.heloName, clientAddress: connection.peer.host,
            // RFC 3848: ESMTPS when the session is under TLS; the TLS parameters go in the comment (RFC 8314 §4.3).
            protocolName: (envelope.isExtended ? "ESMTP" : "SMTP") + (connection.tlsDescription == nil ? "" : "S"),
            tlsDescription: connection.tlsDescription, hostname: context.configuration.hostname,
            timeZoneOffsetMinutes: context.timeZoneOffsetMinutes)
        do throws(DeliveryError) {
            if context.hooks.deliver != nil {
                spool = try SpoolFile(directory: context.spoolDirectory, name: "\(sessionID).\(queueID)")
            } else {
                transaction = try context.deliveryAgent.beginTransaction(
                    reversePath: envelope.reversePath, recipients: recipients, trace: trace)
            }
        } catch {
            failure = error
        }
    }

    func append(_ bytes: [UInt8]) {
        size += bytes.count
        guard failure == nil else { return }
        do throws(DeliveryError) {
            if let transaction { try transaction.append(bytes) }
            if let spool { try spool.append(bytes) }
        } catch {
            failure = error
            transaction?.abort()
            transaction = nil
            spool?.discard()
            spool = nil
        }
    }

    /// Makes the message durable (or hands it to the hook) and returns the decision for the engine.
    func commit() -> SMTPDecision {
        if let failure { return reject(failure.outcome) }
        if let spool {
            return commitToHook(spool)
        }
        guard let transaction else { return reject(.temporaryFailure(EnhancedStatusCode(4, 3, 0), "No transaction")) }
        self.transaction = nil
        let result = transaction.commit()
        guard case .delivered(let names) = result.overall else { return reject(result.overall) }
        // Finding the files costs a stat per copy: only when someone listens.
        if let messageDelivered = context.hooks.messageDelivered {
            messageDelivered(DeliveryReport(
                sessionID: sessionID, reversePath: envelope.reversePath, recipients: envelope.recipients,
                files: Self.paths(of: names, in: result), size: size))
        }
        return .accept
    }

    /// The full paths of the stored files: the transaction reports base names, and each name lives in the
    /// `new/` folder of exactly one of the recipients' Maildirs (names are unique per copy).
    private static func paths(of names: [String], in result: DeliveryResult) -> [String] {
        var directories: [String] = []
        for outcome in result.recipients {
            for mailbox in outcome.mailboxes where !directories.contains(mailbox.destination.path) {
                directories.append(mailbox.destination.path)
            }
        }
        return names.map { name in
            let candidates = directories.map { $0 + "/new/" + name }
            return candidates.first { FileSystem.fileExists(atPath: $0) } ?? name
        }
    }

    func abort() {
        transaction?.abort()
        transaction = nil
        spool?.discard()
        spool = nil
    }

    private func commitToHook(_ spool: SpoolFile) -> SMTPDecision {
        defer {
            spool.discard()
            self.spool = nil
        }
        let path: String
        do throws(DeliveryError) {
            path = try spool.finish()
        } catch {
            return reject(error.outcome)
        }
        let message = ReceivedMessage(
            sessionID: sessionID, reversePath: envelope.reversePath, recipients: envelope.recipients, path: path, size: size)
        switch context.hooks.deliver?(message) ?? .accepted {
        case .accepted:
            context.hooks.messageDelivered?(DeliveryReport(
                sessionID: sessionID, reversePath: envelope.reversePath, recipients: envelope.recipients, files: [], size: size))
            return .accept
        case .temporaryFailure(let text):
            return .reject(SMTPReply(451, EnhancedStatusCode(4, 3, 0), text))
        case .permanentFailure(let text):
            return .reject(SMTPReply(554, EnhancedStatusCode(5, 3, 0), text))
        }
    }

    private func reject(_ outcome: DeliveryOutcome) -> SMTPDecision {
        context.logSink.log(LogRecord(.warning, "smtp.message_rejected", session: sessionID, [
            ("code", outcome.statusCode.description), ("reason", outcome.reason),
        ]))
        switch outcome {
        case .delivered:
            return .accept
        case .temporaryFailure(let code, let text):
            // 452 for storage shortages (4.2.2 mailbox full, 4.3.1 disk full; RFC 5321 §4.2.2), else 451.
            let storage = code.subject == 2 || code == EnhancedStatusCode(4, 3, 1)
            return .reject(SMTPReply(storage ? 452 : 451, code, text))
        case .permanentFailure(let code, let text):
            return .reject(SMTPReply(code == EnhancedStatusCode(5, 3, 4) ? 552 : 554, code, text))
        }
    }
}
