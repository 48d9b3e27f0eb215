// SMTPOutboundTransport: delivers one queued message to one domain over SMTP — asks OutboundRouting for the
// route (transport_maps, relay host or MX), the TLS level and the relay credentials, then tries the hosts in
// order (at most five addresses per attempt), each connection driven by an SMTPClientSession, and turns the
// client engine's results into the queue's outcomes. A 421 or 5xx greeting and a failed connection move on to
// the next host; the error classes come from the engine's table (SMTPErrorClassification), not from here.
// A session that finished a message waits a few seconds for the next message to the same host and address
// (connection reuse); a `local` route goes to this server's mailboxes instead.

import PostOfficeCore
import PostOfficeQueue
import PostOfficeSASL
import PostOfficeSMTP
import PostOfficeSMTPClient
import PostOfficeTLS

final class SMTPOutboundTransport: OutboundTransport, @unchecked Sendable {
    struct Settings: Sendable {
        var clientName: String
        var connectTimeoutMilliseconds = 30_000
        var maximumAddressesPerAttempt = 5
        var reuse = SMTPClientSession.ReusePolicy()
    }

    private let routing: OutboundRouting
    private let localDelivery: (any QueueLocalDelivery)?
    private let io: IOCore
    private let environment: ServerEnvironment
    private let settings: Settings
    /// Sessions idle after a message, by host, address, TLS level and login: the next message there reuses one.
    private let lock = Lock()
    private var idle: [String: [SMTPClientSession]] = [:]
    private var connectionsOpened = 0

    init(
        routing: OutboundRouting, localDelivery: (any QueueLocalDelivery)?, io: IOCore, environment: ServerEnvironment,
        settings: Settings
    ) {
        self.routing = routing
        self.localDelivery = localDelivery
        self.io = io
        self.environment = environment
        self.settings = settings
    }

    /// TCP connections opened so far (tests: connection reuse).
    var connectionCount: Int { lock.withLock { connectionsOpened } }

    func deliver(
        _ message: QueueMessage, recipients indices: [Int], domain: String, store: QueueStore,
        completion: @escaping @Sendable (OutboundAttempt) -> Void
    ) {
        let plan = routing.plan(for: domain)
        switch plan.route {
        case .temporaryFailure(let code, let text):
            completion(OutboundAttempt(outcomes: Self.all(indices, .deferred(code, text)), destinationReachable: false))
        case .permanentFailure(let code, let text):
            completion(OutboundAttempt(outcomes: Self.all(indices, .failed(code, text)), destinationReachable: true))
        case .local:
            // transport_maps `local`: into our own mailboxes, by local part.
            guard let localDelivery, let localDomain = plan.localDomain else {
                completion(OutboundAttempt(
                    outcomes: Self.all(indices, .deferred(EnhancedStatusCode(4, 3, 5), "no local delivery for \(domain)")),
                    destinationReachable: true))
                return
            }
            let outcomes = localDelivery.deliver(message, recipients: indices, store: store, localPartsIn: localDomain)
            completion(OutboundAttempt(outcomes: outcomes, destinationReachable: true))
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
            // RFC 6152: 8-bit content needs 8BITMIME at the other end; look at the octets, not only at what
            // the sender declared (BODY=8BITMIME), so a server without 8BITMIME never gets raw 8-bit bytes.
            // Recorded at commit; a message queued before that was recorded is read through once more.
            let eightBit = message.envelope.hasEightBitOctets ?? Self.hasEightBitOctets(message.id, store: store)
            let outbound = SMTPOutboundMessage(
                from: message.envelope.reversePath,
                to: indices.map { SMTPOutboundMessage.Recipient(message.envelope.recipients[$0].address, parameters: Self.parameters(message.envelope.recipients[$0])) },
                size: message.envelope.messageSize, isEightBit: message.envelope.is8Bit || eightBit,
                dsnReturn: message.envelope.returnContent.flatMap(MailParameters.DSNReturn.init(rawValue:)),
                envelopeID: message.envelope.envelopeID)
            attempt(
                targets[...], plan: plan, message: message, outbound: outbound, eightBit: eightBit, indices: indices,
                store: store, lastFailure: nil, completion: completion)
        }
    }

    /// True when the queued body has an octet above 127 (or cannot be read: then it is not sent anyway).
    private static func hasEightBitOctets(_ id: QueueID, store: QueueStore) -> Bool {
        guard let body = try? store.openBody(id) else { return true }
        while let chunk = try? body.next() {
            if chunk.contains(where: { $0 >= 0x80 }) { return true }
        }
        return false
    }

    /// Tries `targets` one after the other until one gives a final answer for the message.
    private func attempt(
        _ targets: ArraySlice<(host: OutboundHost, address: SocketAddress)>, plan: OutboundPlan, message: QueueMessage,
        outbound: SMTPOutboundMessage, eightBit: Bool, indices: [Int], store: QueueStore, lastFailure: OutboundOutcome?,
        completion: @escaping @Sendable (OutboundAttempt) -> Void
    ) {
        guard let target = targets.first else {
            let outcome = lastFailure ?? .deferred(EnhancedStatusCode(4, 4, 1), "No mail host answered")
            completion(OutboundAttempt(outcomes: Self.all(indices, outcome), destinationReachable: false))
            return
        }
        let rest = targets.dropFirst()
        let body: QueueBodyReader
        do {
            body = try store.openBody(message.id)
        } catch {
            completion(OutboundAttempt(
                outcomes: Self.all(indices, .deferred(EnhancedStatusCode(4, 3, 0), "Queue file unreadable: \(error)")),
                destinationReachable: true))
            return
        }
        let log = environment.logSink
        let queuePool = io.queueWorkPool
        let next: @Sendable (OutboundOutcome) -> Void = { [self] failure in
            // Off the loop: opening the next body file reads the disk.
            queuePool.submit { [self] in
                attempt(
                    rest, plan: plan, message: message, outbound: outbound, eightBit: eightBit, indices: indices,
                    store: store, lastFailure: failure, completion: completion)
            }
        }
        // Off the loop already: the first batch of the body (all of a message up to 64 KiB) is read here, so
        // the session sends it without a round trip through the storage pool.
        let ahead = SMTPClientSession.BodyBatch.read(body)
        let job = SMTPClientSession.Job(message: outbound, body: body, hasEightBitOctets: eightBit, ahead: ahead) { outcome in
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
        let configuration = SMTPClientConfiguration(
            clientName: settings.clientName, tlsPolicy: plan.tlsPolicy, credentials: plan.credentials,
            isFinalHost: rest.isEmpty)
        let key = [
            target.host.name, target.address.description, plan.tlsPolicy.rawValue, plan.tls.caFile ?? "",
            plan.credentials?.authenticationIdentity ?? "", rest.isEmpty ? "final" : "more",
        ].joined(separator: "|")
        // A session idle after its last message to this very host takes this one (RSET, then MAIL).
        if let session = takeIdle(key), let loop = session.loop {
            log.log(LogRecord(.info, "outbound.reuse", [("queue_id", message.id.description), ("host", target.host.name)]))
            loop.execute { [self] in
                guard !session.resume(with: job) else { return }
                queuePool.submit { [self] in connect(target, key: key, configuration: configuration, tls: plan.tls, job: job, message: message, next: next) }
            }
            return
        }
        connect(target, key: key, configuration: configuration, tls: plan.tls, job: job, message: message, next: next)
    }

    private func connect(
        _ target: (host: OutboundHost, address: SocketAddress), key: String, configuration: SMTPClientConfiguration,
        tls: OutboundTLSContexts, job: SMTPClientSession.Job, message: QueueMessage,
        next: @escaping @Sendable (OutboundOutcome) -> Void
    ) {
        let id = environment.random.token(length: 10)
        let log = environment.logSink
        log.log(LogRecord(.info, "outbound.connect", session: id, [
            ("queue_id", message.id.description), ("host", target.host.name), ("address", target.address.description),
        ]))
        lock.withLock { connectionsOpened += 1 }
        let connector = OutboundConnector(loop: io.nextEventLoop())
        let queuePool = io.queueWorkPool
        let reuse = settings.reuse
        connector.connect(to: target.address, timeoutMilliseconds: settings.connectTimeoutMilliseconds, id: id) { [self] result in
            switch result {
            case .failure(let failure):
                log.log(LogRecord(.warning, "outbound.connect_failed", session: id, [
                    ("host", target.host.name), ("error", failure.description),
                ]))
                next(.deferred(EnhancedStatusCode(4, 4, 1), "\(target.host.name)[\(target.address.host)]: \(failure)"))
            case .success(let connection):
                // Opportunistic TLS (RFC 3207 `may`) encrypts without verifying, as Postfix's default does;
                // `verify` checks the chain and the host name against smtp_tls_CAfile or the system store.
                let session = SMTPClientSession(
                    configuration: configuration, first: job, tls: (tls.verifying, tls.opportunistic),
                    serverName: target.host.name,
                    storagePool: queuePool, logSink: log, reuse: reuse,
                    park: { [weak self] session in self?.park(session, key: key) ?? false },
                    unpark: { [weak self] session in self?.unpark(session, key: key) })
                connection.handler = session
                connection.start()  // calls connectionOpened, which waits for the greeting
            }
        }
    }

    // MARK: Idle sessions

    private func takeIdle(_ key: String) -> SMTPClientSession? {
        lock.withLock {
            guard var sessions = idle[key], !sessions.isEmpty else { return nil }
            let session = sessions.removeLast()
            idle[key] = sessions.isEmpty ? nil : sessions
            return session
        }
    }

    private func park(_ session: SMTPClientSession, key: String) -> Bool {
        guard settings.reuse.maximumMessages > 1 else { return false }
        lock.withLock { idle[key, default: []].append(session) }
        return true
    }

    private func unpark(_ session: SMTPClientSession, key: String) {
        lock.withLock {
            idle[key]?.removeAll { $0 === session }
            if idle[key]?.isEmpty == true { idle[key] = nil }
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
