// ListenerSpec: a listener as data — the address, the service it serves and how TLS starts — so adding a
// service means adding a session factory, not a case in the server, the context and the configuration.

import PostOfficeCore

/// One listening socket's job.
public struct ListenerSpec: Sendable, Hashable, CustomStringConvertible {
    /// The protocol a listener serves.
    public enum Service: String, Sendable, Hashable, CaseIterable {
        /// SMTP ([RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)): mail for local users (port 25).
        case smtp
        /// Message submission ([RFC 6409](https://www.rfc-editor.org/rfc/rfc6409)): the users' own mail, after
        /// SMTP AUTH, to any domain (ports 587 and 465).
        case submission
        /// POP3 ([RFC 1939](https://www.rfc-editor.org/rfc/rfc1939)): users fetch their mail.
        case pop3
        /// `GET /metrics` over HTTP/1.x in the Prometheus text format, for a monitoring system to scrape.
        case metrics
        /// LMTP ([RFC 2033](https://www.rfc-editor.org/rfc/rfc2033)): an MTA on this machine hands mail for
        /// local users over, one reply per recipient. Never TLS, never AUTH, never relaying.
        case lmtp
    }

    /// How TLS begins on a connection.
    public enum Security: String, Sendable, Hashable {
        /// Plain text only.
        case none
        /// Plain text, upgraded by STARTTLS/STLS ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207), RFC 2595).
        case startTLS
        /// TLS from the first byte ([RFC 8314](https://www.rfc-editor.org/rfc/rfc8314): 465, 995).
        case implicit
    }

    public var address: SocketAddress
    public var service: Service
    public var security: Security
    /// The connection starts with a PROXY protocol header (v1 or v2, from HAProxy or another proxy) naming
    /// the real client; a connection without a valid one is closed.
    public var expectsProxyHeader: Bool

    public init(address: SocketAddress, service: Service, security: Security, expectsProxyHeader: Bool = false) {
        self.address = address
        self.service = service
        self.security = security
        self.expectsProxyHeader = expectsProxyHeader
    }

    /// "smtp", "submission", "submissions", "pop3", "pop3s" or "lmtp", as logs and the configuration name them.
    public var name: String { service.rawValue + (security == .implicit ? "s" : "") }

    public var description: String { "\(name) \(address)" + (expectsProxyHeader ? " (PROXY protocol)" : "") }
}

extension PostOfficeConfiguration {
    /// Every listener this configuration asks for. STARTTLS is offered wherever a certificate is configured.
    public var listenerSpecs: [ListenerSpec] {
        let upgrade: ListenerSpec.Security = tls == nil ? .none : .startTLS
        let specs = smtpListeners.map { ListenerSpec(address: $0, service: .smtp, security: upgrade) }
            + pop3Listeners.map { ListenerSpec(address: $0, service: .pop3, security: upgrade) }
            + submissionListeners.map { ListenerSpec(address: $0, service: .submission, security: upgrade) }
            + smtpsListeners.map { ListenerSpec(address: $0, service: .submission, security: .implicit) }
            + pop3sListeners.map { ListenerSpec(address: $0, service: .pop3, security: .implicit) }
            + metricsListeners.map { ListenerSpec(address: $0, service: .metrics, security: .none) }
            // LMTP is a local hop (a Unix socket or loopback): no STARTTLS, like Dovecot's default.
            + lmtpListeners.map { ListenerSpec(address: $0, service: .lmtp, security: .none) }
        return specs.map { spec in
            var spec = spec
            spec.expectsProxyHeader = proxyProtocolListeners.contains(spec.name)
            return spec
        }
    }
}
