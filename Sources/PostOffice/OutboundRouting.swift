// OutboundRouting: decides, per destination domain, where its mail goes and how: transport_maps first, then the
// relay host, then the domain's MX records; with the TLS level (global, or the entry's `tls=`), the client TLS
// contexts (`verify` trusts smtp_tls_CAfile or the system store) and the AUTH credentials of the next hop. Its
// settings are replaced on reload; the DNS servers are fixed at start.

import PostOfficeAccounts
import PostOfficeCore
import PostOfficeDNS
import PostOfficeSASL
import PostOfficeSMTPClient
import PostOfficeTLS

/// How one domain's mail is sent in this attempt.
struct OutboundPlan: Sendable, Equatable {
    var route: MailRoute
    var tlsPolicy: SMTPClientTLSPolicy
    /// AUTH credentials for the next hop (a relay host or a transport_maps host); nil for MX delivery.
    var credentials: PlainCredentials?
    /// For `local` routes: the domain whose mailboxes get the mail by local part.
    var localDomain: String?
    /// The client TLS contexts in force (smtp_tls_CAfile as of the last start or reload).
    var tls = OutboundTLSContexts.systemStore
}

/// The reloadable routing settings and the lookups that apply them. Thread-safe.
final class OutboundRouting: @unchecked Sendable {
    struct Settings: Sendable, Equatable {
        var transportTable = TransportTable()
        var tlsPolicy = SMTPClientTLSPolicy.may
        var relayHost: RelayHost?
        var credentials = RelayCredentials()
        /// The client TLS contexts, built from `smtp_tls_CAfile` (or the system store).
        var tls = OutboundTLSContexts.systemStore
        var destinationPort = 25
        /// Where `local` transport entries deliver (the first local domain).
        var localDomain: String?

        init() {}

        /// Reads the files the configuration names; throws a ConfigurationError naming the file and line.
        init(_ configuration: PostOfficeConfiguration) throws(ConfigurationError) {
            if let path = configuration.transportMapsFile {
                let text: String?
                do {
                    text = try AccountsFile.read(path)
                } catch {
                    throw ConfigurationError(file: path, line: 0, message: "transport_maps cannot be read: \(error)")
                }
                guard let text else { throw ConfigurationError(file: path, line: 0, message: "transport_maps: no such file") }
                transportTable = try TransportTable(parsing: text, file: path)
            }
            if let path = configuration.relayCredentialsFile {
                credentials = try RelayCredentials(file: path)
            }
            tlsPolicy = SMTPClientTLSPolicy(level: configuration.outboundTLSPolicy) ?? .may
            relayHost = configuration.smarthost
            tls = try OutboundTLSContexts(caFile: configuration.outboundTLSCAFile)
            destinationPort = configuration.smtpDestinationPort
            localDomain = configuration.domains.first?.lowercased()
        }
    }

    private let lock = Lock()
    private var current: Settings
    private let dns: DNSTransport
    private let localNames: Set<DNSName>

    init(settings: Settings, dns: DNSTransport, localNames: Set<DNSName>) {
        current = settings
        self.dns = dns
        self.localNames = localNames
    }

    var settings: Settings { lock.withLock { current } }

    func replace(_ settings: Settings) { lock.withLock { current = settings } }

    /// Where `domain`'s mail goes now. Blocking (DNS): call it off the event loops.
    func plan(for domain: String) -> OutboundPlan {
        let settings = self.settings
        var plan = route(domain, settings)
        plan.tls = settings.tls
        return plan
    }

    private func route(_ domain: String, _ settings: Settings) -> OutboundPlan {
        switch settings.transportTable.entry(for: domain) {
        case .error(let code, let text)?:
            return OutboundPlan(route: .permanentFailure(code, text), tlsPolicy: settings.tlsPolicy)
        case .retry(let code, let text)?:
            return OutboundPlan(route: .temporaryFailure(code, text), tlsPolicy: settings.tlsPolicy)
        case .local?:
            guard let local = settings.localDomain else {
                return OutboundPlan(
                    route: .temporaryFailure(EnhancedStatusCode(4, 3, 5), "transport_maps says local, but no local domain is configured"),
                    tlsPolicy: settings.tlsPolicy)
            }
            return OutboundPlan(route: .local, tlsPolicy: settings.tlsPolicy, localDomain: local)
        case .smtp(let host, let port, let looksUpMX, let tls)?:
            let port = port ?? settings.destinationPort
            let route = looksUpMX ? mxRoute(host, port: port) : addressRoute(host, port: port)
            return OutboundPlan(
                route: route, tlsPolicy: tls ?? settings.tlsPolicy,
                credentials: settings.credentials.credentials(host: host, port: port))
        case nil:
            if let relay = settings.relayHost {
                // Postfix's relayhost: `host:port` by the host's MX records, `[host]:port` by its addresses.
                let port = relay.port ?? settings.destinationPort
                let route = relay.looksUpMX ? mxRoute(relay.host, port: port) : addressRoute(relay.host, port: port)
                return OutboundPlan(
                    route: route, tlsPolicy: settings.tlsPolicy,
                    credentials: settings.credentials.credentials(host: relay.host, port: port))
            }
            return OutboundPlan(route: mxRoute(domain, port: settings.destinationPort), tlsPolicy: settings.tlsPolicy)
        }
    }

    private func mxRoute(_ domain: String, port: Int) -> MailRoute {
        MXResolver(port: port, transport: dns, localNames: localNames).route(for: domain)
    }

    /// `[host]`: an address literal as is, a name through A and AAAA (no MX lookup).
    private func addressRoute(_ host: String, port: Int) -> MailRoute {
        if IPAddress(host) != nil {
            return .hosts([OutboundHost(name: host, addresses: [SocketAddress(host: host, port: port)])])
        }
        guard let name = try? DNSName(host) else {
            return .permanentFailure(EnhancedStatusCode(5, 1, 2), "\(host) is not a valid host name")
        }
        var addresses: [SocketAddress] = []
        var temporary: String?
        for type in [DNSRecordType.aaaa, .a] {
            switch dns.lookup(name, type) {
            case .answer(let answer): addresses += answer.addresses.map { SocketAddress(host: $0.description, port: port) }
            case .temporaryFailure(let failure): temporary = "\(failure)"
            case .nameError, .noData: break
            }
        }
        if !addresses.isEmpty { return .hosts([OutboundHost(name: host, addresses: addresses)]) }
        if let temporary { return .temporaryFailure(EnhancedStatusCode(4, 4, 3), "DNS lookup of \(host) failed: \(temporary)") }
        return .temporaryFailure(EnhancedStatusCode(4, 4, 4), "the next hop \(host) has no address (A or AAAA)")
    }
}
