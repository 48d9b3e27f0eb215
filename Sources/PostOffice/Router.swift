// Router: where each envelope address goes. A sender is accepted or refused; a recipient becomes local
// mailboxes, a remote destination (relay), or a refusal with its SMTP reply. The embedder's hooks decide
// first, then the users, aliases, catch-alls and postmaster rules of the delivery agent. Hooks may block:
// `mayBlock` tells a driver to call from the storage pool, never from an event loop.

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeSMTP

/// Routes envelope addresses for every session of one server.
final class Router: Sendable {
    /// Where an accepted recipient goes.
    enum Route: Sendable, Equatable {
        /// Delivered here, into these mailboxes (an alias may fan out).
        case local(RecipientResolution)
        /// Another domain's recipient that this server forwards (an embedder's `.relay`).
        case remote(MailAddress)
        /// A local alias whose targets include other domains' addresses, forwarded through the queue; its
        /// local mailboxes, if any, in `local`.
        case forwarded(local: RecipientResolution?, remote: [MailAddress])
        /// Refused with this reply.
        case rejected(SMTPReply)
    }

    private let hooks: PostOfficeHooks
    private let deliveryAgent: LocalDeliveryAgent
    private let logSink: any LogSink

    init(hooks: PostOfficeHooks, deliveryAgent: LocalDeliveryAgent, logSink: any LogSink) {
        self.hooks = hooks
        self.deliveryAgent = deliveryAgent
        self.logSink = logSink
    }

    /// True when deciding calls embedder code, which may block (a database look-up).
    var mayBlock: Bool { hooks.checkSender != nil || hooks.checkRecipient != nil }

    /// Decides a MAIL FROM ([RFC 5321 §4.1.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.2)).
    func decide(sender request: SenderRequest, session: String) -> SMTPDecision {
        guard let hook = hooks.checkSender else { return .accept }
        switch hook(request) {
        case .accept:
            return .accept
        case .reject(let code, let enhanced, let text):
            logSink.log(LogRecord(.info, "smtp.sender_rejected", session: session, [
                ("client", request.client.host), ("from", request.reversePath?.description ?? "<>"), ("code", String(code)),
            ]))
            return .reject(SMTPReply(code, EnhancedStatusCode(enhanced) ?? EnhancedStatusCode(code / 100, 0, 0), text))
        }
    }

    /// Routes a RCPT TO ([RFC 5321 §4.1.1.3](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.3)).
    /// `mayRelay`: the client authenticated or is in `relay_networks`, so another domain's recipient is
    /// forwarded instead of refused. `localOnly` (LMTP): another domain's recipient, or one an embedder's
    /// hook would relay, is not a mailbox here: 550 5.1.1.
    /// `forwardsRemoteTargets`: the outbound queue is on, so an alias's targets in other domains are forwarded.
    func route(
        _ request: RecipientRequest, mayRelay: Bool = false, localOnly: Bool = false, forwardsRemoteTargets: Bool = false,
        session: String
    ) -> Route {
        let recipient = request.recipient
        if let hook = hooks.checkRecipient {
            switch hook(request) {
            case .useDefault:
                break
            case .accept(let mailbox):
                let resolution = deliveryAgent.resolve(mailbox)
                guard case .local = resolution else {
                    return .rejected(SMTPReply(451, EnhancedStatusCode(4, 3, 0), "Mailbox for \(mailbox) cannot be resolved"))
                }
                return .local(resolution)
            case .relay:
                guard !localOnly else { return notLocal(request, session: session) }
                return .remote(recipient)
            case .reject(let code, let enhanced, let text):
                log(request, session: session, ["code": String(code)])
                return .rejected(SMTPReply(code, EnhancedStatusCode(enhanced) ?? EnhancedStatusCode(code / 100, 0, 0), text))
            }
        }
        let resolution: RecipientResolution
        if forwardsRemoteTargets {
            let (local, remote) = deliveryAgent.resolveForwarding(recipient)
            if !remote.isEmpty {
                if case .local = local { return .forwarded(local: local, remote: remote) }
                return .forwarded(local: nil, remote: remote)
            }
            resolution = local
        } else {
            resolution = deliveryAgent.resolve(recipient)
        }
        if case .local = resolution { return .local(resolution) }
        if resolution == .relayDenied && localOnly { return notLocal(request, session: session) }
        if resolution == .relayDenied && mayRelay { return .remote(recipient) }
        log(request, session: session, ["reason": resolution.reason])
        let code = resolution == .invalidAddress ? 501 : 550
        let text: String
        switch resolution {
        case .unknownUser: text = "<\(recipient)>: Recipient address rejected: User unknown"
        default: text = "<\(recipient)>: \(resolution.reason)"
        }
        return .rejected(SMTPReply(code, resolution.statusCode, text))
    }

    /// Refuses a local recipient whose mailbox cannot take the message: already at a quota limit, or short of
    /// the `SIZE=` the client declared (RFC 1870). 552 5.2.2, or 452 4.2.2 with `quota_full_tempfail`. A message
    /// of unknown size that does not fit is refused at the end of DATA instead. Reads `maildirsize`: may block.
    func checkQuota(_ route: Route, request: RecipientRequest, declaredSize: Int?, session: String) -> Route {
        guard case .local(let resolution) = route,
            let refusal = deliveryAgent.quotaRefusal(for: resolution.mailboxes, size: declaredSize ?? 0)
        else { return route }
        log(request, session: session, ["reason": "over quota", "code": refusal.statusCode.description])
        return .rejected(SMTPReply(refusal.isTemporary ? 452 : 552, refusal.statusCode, refusal.reason))
    }

    /// LMTP delivers to this server's mailboxes only (RFC 2033 §4.2 has no relaying).
    private func notLocal(_ request: RecipientRequest, session: String) -> Route {
        log(request, session: session, ["reason": "not a local mailbox (LMTP)"])
        return .rejected(SMTPReply(
            550, EnhancedStatusCode(5, 1, 1),
            "<\(request.recipient)>: Recipient address rejected: not a local mailbox on this server (LMTP delivers to local users only; check the MTA's transport for this domain)"))
    }

    private func log(_ request: RecipientRequest, session: String, _ fields: KeyValuePairs<String, String>) {
        logSink.log(LogRecord(.info, "smtp.recipient_rejected", session: session,
            [("client", request.client.host), ("rcpt", request.recipient.description)] + fields.map { ($0.key, $0.value) }))
    }
}
