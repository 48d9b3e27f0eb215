// SessionFactory: turns an accepted connection into the protocol session its listener serves. One factory
// per ListenerSpec.Service; the server looks the factory up instead of switching over listener kinds.

import PostOfficeTLS

/// Makes the session (the ConnectionHandler) for a new connection on a listener.
protocol SessionFactory: Sendable {
    /// `tls` is the context for STARTTLS or the implicit handshake, nil when TLS is off.
    func makeSession(
        context: ServerContext, connection: Connection, spec: ListenerSpec, admission: ConnectionRegistry.Admission,
        tls: TLSContext?
    ) -> any ConnectionHandler
}

/// SMTP sessions, for port 25 and for submission (the spec's service tells them which rules apply).
struct SMTPSessionFactory: SessionFactory {
    func makeSession(
        context: ServerContext, connection: Connection, spec: ListenerSpec, admission: ConnectionRegistry.Admission,
        tls: TLSContext?
    ) -> any ConnectionHandler {
        SMTPSession(
            context: context, sessionID: connection.id, admission: admission, tls: tls, spec: spec,
            peer: connection.peer.host)
    }
}

/// POP3 sessions.
struct POP3SessionFactory: SessionFactory {
    func makeSession(
        context: ServerContext, connection: Connection, spec: ListenerSpec, admission: ConnectionRegistry.Admission,
        tls: TLSContext?
    ) -> any ConnectionHandler {
        POP3Session(
            context: context, sessionID: connection.id, admission: admission,
            peer: connection.peer.host, tls: tls, isImplicitTLS: spec.security == .implicit)
    }
}
