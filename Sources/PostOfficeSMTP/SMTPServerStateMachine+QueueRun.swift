// SMTPServerStateMachine+QueueRun: ETRN (RFC 1985), a client asking the server to try the mail queued for
// its domain now (a backup MX releasing mail to a primary that came back). Who may ask and for which domains
// is decided here from the configuration; the queue run itself is the driver's (startQueueRun).

import PostOfficeCore

extension SMTPServerStateMachine {
    /// ETRN ([RFC 1985 §3](https://www.rfc-editor.org/rfc/rfc1985#section-3)): allowed for
    /// ``SMTPServerConfiguration/queueRunDomains`` to a trusted client or after AUTH; 459 otherwise.
    mutating func queueRun(_ node: SMTPQueueNode, _ out: inout [SMTPAction]) {
        guard !configuration.queueRunDomains.isEmpty else { return reply(.commandNotImplemented, &out) }
        guard heloName != nil else { return reply(.needHello, &out) }
        guard transaction == nil else { return reply(.badSequence.withText("Error: ETRN during a mail transaction; send RSET first"), &out) }
        guard configuration.allowsQueueRunWithoutAuthentication || authenticatedIdentity != nil else {
            return reply(.queueRunNotAllowed(
                node.text, reason: "log in first (AUTH) or connect from a network in relay_networks",
                code: EnhancedStatusCode(4, 7, 1)), &out)
        }
        switch node {
        case .queue:
            reply(.queueRunNotAllowed(node.text, reason: "named queues are not supported; use ETRN domain"), &out)
        case .domain(let name), .domainAndSubdomains(let name):
            guard configuration.queueRunDomains.contains(name) else {
                return reply(.queueRunNotAllowed(node.text, reason: "this server does not relay for that domain (relay_domains)"), &out)
            }
            pending = .queueRun(node)
            out.append(.startQueueRun(node))
        }
    }

    /// The driver's answer to ``SMTPAction/startQueueRun(_:)``: `.accept` gives 250 2.0.0 Queuing started;
    /// `.reject(.queueRunUnavailable(...))` says why not.
    public mutating func resolveQueueRun(_ decision: SMTPDecision) -> [SMTPAction] {
        guard !closed, case .queueRun(let node) = pending else { return [] }
        pending = nil
        var out: [SMTPAction] = []
        if let reply = Self.acceptance(decision, standard: .queueRunStarted(node.text)) {
            self.reply(reply, &out)
        } else {
            self.reply(Self.refusal(decision), &out)
        }
        resume(&out)
        return out
    }
}
