// SMTPOutboundTransport: delivers one queued message to one domain over SMTP — resolves the route, then tries
// the hosts in order (at most five addresses per attempt), each connection driven by an SMTPClientSession with
// opportunistic or required TLS, and turns the client engine's results into the queue's outcomes. A 421 or
// 5xx greeting and a failed connection move on to the next host; the error classes come from the engine's
// table (SMTPErrorClassification), not from here.

import PostOfficeCore
import PostOfficeQueue
import PostOfficeSMTP
import PostOfficeSMTPClient
import PostOfficeTLS

final class SMTPOutboundTransport: OutboundTransport, @unchecked Sendable {
    struct Settings: Sendable {
        var clientName: String
        var tlsPolicy: SMTPClientTLSPolicy = .may
        var connectTimeoutMilliseconds = 30_000
        var maximumAddressesPerAttempt = 5
    }

    private let resolver: any MailRouteResolver
    private let io: IOCore
    private let environment: ServerEnvironment
    private let settings: Settings
    private let tls: (verifying: TLSContext?, opportunistic: TLSContext?)

    init(resolver: any MailRouteResolver, io: IOCore, environment: ServerEnvironment, settings: Settings) {
        self.resolver = resolver
        self.io = io
        self.environment = environment
        self.settings = settings
        // Opportunistic TLS (RFC 3207 `may`) encrypts without verifying, as Postfix's default does; `verify`
        // checks the chain and the host name against the system store.
        tls = (
            try? TLSContext(client: TLSClientConfiguration()),
            try? TLSContext(client: TLSClientConfiguration(verifiesPeer: false))
        )
    }

    func deliver(
        _ message: QueueMessage, recipients indices: [Int], domain: String, store: QueueStore,
        completion: @escaping @Sendable (OutboundAttempt) -> Void
    ) {
        switch resolver.route(for: domain) {
        case .temporaryFailure(let code, let text):
            completion(OutboundAttempt(outcomes: Self.all(indices, .deferred(code, text)), destinationReachable: false))
        case .permanentFailure(let code, let text):
            completion(OutboundAttempt(outcomes: Self.all(indices, .failed(code, text)), destinationReachable: true))
        case .hosts(let hosts):
            var targets: [(host: OutboundHost, address: SocketAddress)] = []
            for host in hosts {
                for address in host.addresses where targets.count < settings.maximumAddressesPerAttempt {
                    targets.append((host, address))
                }
            }
            guard !targets.isEmpty else {
                completion(OutboundAttempt(
                    outcomes: Self.all(indices, .deferred(EnhancedStatusCode(4, 4, 4), "No address for any mail host of \(domain)")),
                    destinationReachable: false))
                return
            }
            let outbound = SMTPOutboundMessage(
                from: message.envelope.reversePath,
                to: indices.map { SMTPOutboundMessage.Recipient(message.envelope.recipients[$0].address, parameters: Self.parameters(message.envelope.recipients[$0])) },
                size: message.envelope.messageSize,
                dsnReturn: message.envelope.returnContent.flatMap(MailParameters.DSNReturn.init(rawValue:)),
                envelopeID: message.envelope.envelopeID)
            attempt(targets[...], message: message, outbound: outbound, indices: indices, store: store, lastFailure: nil, completion: completion)
        }
    }

    /// Tries `targets` one after the other until one gives a final answer for the message.
    private func attempt(
        _ targets: ArraySlice<(host: OutboundHost, address: SocketAddress)>, message: QueueMessage,
        outbound: SMTPOutboundMessage, indices: [Int], store: QueueStore, lastFailure: OutboundOutcome?,
        completion: @escaping @Sendable (OutboundAttempt) -> Void
    ) {
        guard let target = targets.first else {
            let outcome = lastFailure ?? .deferred(EnhancedStatusCode(4, 4, 1), "No mail host answered")
            completion(OutboundAttempt(outcomes: Self.all(indices, outcome), destinationReachable: false))
            return
        }
        let rest = targets.dropFirst()
        let body: UncheckedSendable<QueueBodyReader>
        do {
            body = UncheckedSendable(try store.openBody(message.id))
        } catch {
            completion(OutboundAttempt(
                outcomes: Self.all(indices, .deferred(EnhancedStatusCode(4, 3, 0), "Queue file unreadable: \(error)")),
                destinationReachable: true))
            return
        }
        let id = environment.random.token(length: 10)
        let log = environment.logSink
        log.log(LogRecord(.info, "outbound.connect", session: id, [
            ("queue_id", message.id.description), ("host", target.host.name), ("address", target.address.description),
        ]))
        let isFinalHost = rest.isEmpty
        let configuration = SMTPClientConfiguration(
            clientName: settings.clientName, tlsPolicy: settings.tlsPolicy, isFinalHost: isFinalHost)
        let loop = io.nextEventLoop()
        let connector = OutboundConnector(loop: loop)
        let storagePool = io.storagePool
        let next: @Sendable (OutboundOutcome) -> Void = { [self] failure in
            // Off the loop: opening the next body file reads the disk.
            storagePool.submit { [self] in
                attempt(rest, message: message, outbound: outbound, indices: indices, store: store, lastFailure: failure, completion: completion)
            }
        }
        connector.connect(to: target.address, timeoutMilliseconds: settings.connectTimeoutMilliseconds, id: id) { [self] result in
            switch result {
            case .failure(let failure):
                log.log(LogRecord(.warning, "outbound.connect_failed", session: id, [
                    ("host", target.host.name), ("error", failure.description),
                ]))
                next(.deferred(EnhancedStatusCode(4, 4, 1), "\(target.host.name)[\(target.address.host)]: \(failure)"))
            case .success(let connection):
                let session = SMTPClientSession(
                    configuration: configuration, message: outbound, body: body.value, tls: tls, serverName: target.host.name,
                    storagePool: storagePool, logSink: log
                ) { [self] outcome in
                    let (outcomes, moveOn) = Self.outcomes(
                        outcome, indices: indices, addresses: outbound.recipients.map(\.address), host: target.host.name)
                    if moveOn && !rest.isEmpty {
                        next(outcomes.values.first ?? .deferred(EnhancedStatusCode(4, 4, 2), "session ended"))
                        return
                    }
                    // Issue 15 (reports): who took it, and whether NOTIFY went on with it.
                    completion(OutboundAttempt(
                        outcomes: outcomes, destinationReachable: true, remoteHost: target.host.name,
                        remoteSupportsDSN: outcome.remoteSupportsDSN))
                }
                connection.handler = session
                connection.start()  // calls connectionOpened, which waits for the greeting
            }
        }
    }

    /// The queue's outcome per recipient from one session, and whether to try the next host instead.
    /// `addresses` are the recipients of `indices`, in the same order.
    private static func outcomes(
        _ outcome: SMTPClientSession.Outcome, indices: [Int], addresses: [MailAddress], host: String
    ) -> (outcomes: [Int: OutboundOutcome], tryNextHost: Bool) {
        func convert(_ result: SMTPDeliveryResult) -> OutboundOutcome {
            let text = "\(host): \(result.text)"
            switch result.disposition {
            case .delivered: return .delivered(text)
            case .failed: return .failed(result.enhancedCode, text)
            case .deferred, .tryNextHost: return .deferred(result.enhancedCode, text)
            }
        }
        if outcome.recipients.isEmpty {
            guard let result = outcome.session ?? outcome.message else {
                return (all(indices, .deferred(EnhancedStatusCode(4, 4, 2), "\(host): the connection ended early")), true)
            }
            return (all(indices, convert(result)), result.disposition == .tryNextHost || result.disposition == .deferred)
        }
        // One result per recipient, in the order given; a duplicate address takes the next result for it.
        var remaining = outcome.recipients
        var outcomes: [Int: OutboundOutcome] = [:]
        for (index, address) in zip(indices, addresses) {
            if let found = remaining.firstIndex(where: { $0.recipient.address == address }) {
                outcomes[index] = convert(remaining.remove(at: found).result)
            } else {
                outcomes[index] = .deferred(EnhancedStatusCode(4, 4, 2), "\(host): no result for this recipient")
            }
        }
        return (outcomes, false)
    }

    private static func all(_ indices: [Int], _ outcome: OutboundOutcome) -> [Int: OutboundOutcome] {
        Dictionary(uniqueKeysWithValues: indices.map { ($0, outcome) })
    }

    /// NOTIFY and ORCPT as the client passes them on when the next hop offers DSN (RFC 3461).
    private static func parameters(_ recipient: QueueRecipient) -> RecipientParameters {
        var parameters = RecipientParameters()
        if let notify = recipient.notify {
            var set: RecipientParameters.DSNNotify = []
            for word in notify.split(separator: ",") {
                switch word.uppercased() {
                case "SUCCESS": set.insert(.success)
                case "FAILURE": set.insert(.failure)
                case "DELAY": set.insert(.delay)
                default: break
                }
            }
            parameters.dsnNotify = set
        }
        if let original = recipient.originalRecipient, let semicolon = original.firstIndex(of: ";") {
            parameters.originalRecipient = RecipientParameters.OriginalRecipient(
                addressType: String(original[..<semicolon]), address: String(original[original.index(after: semicolon)...]))
        }
        return parameters
    }
}
