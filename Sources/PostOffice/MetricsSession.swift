// MetricsSession: the HTTP side of a `metrics_listen` connection — one request, one response, then close.
// The request head goes through HTTPRequestParser; GET or HEAD /metrics is answered with the exposition,
// built on the storage pool (it reads the queue directory and /proc); anything else gets 400, 404 or 405.

import PostOfficeCore
import PostOfficeQueue
import PostOfficeTLS

/// Makes the HTTP session of a metrics listener.
struct MetricsSessionFactory: SessionFactory {
    func makeSession(
        context: ServerContext, connection: Connection, spec: ListenerSpec, admission: ConnectionRegistry.Admission,
        tls: TLSContext?
    ) -> any ConnectionHandler {
        MetricsSession(context: context, admission: admission)
    }
}

/// Confined to its connection's event loop, which is what makes the unchecked Sendable sound.
final class MetricsSession: ConnectionHandler, @unchecked Sendable {
    private let context: ServerContext
    private let admission: ConnectionRegistry.Admission
    private var parser = HTTPRequestParser()
    private var isAnswered = false

    /// A scraper sends its request at once; one that does not is dropped after this long.
    static let requestTimeoutSeconds = 10

    init(context: ServerContext, admission: ConnectionRegistry.Admission) {
        self.context = context
        self.admission = admission
    }

    func connectionOpened(_ connection: Connection) {
        guard admission == .admitted else {
            context.environment.log(.warning, "metrics.refused", connection, [
                "client": connection.peer.host, "reason": admission.refusalReason,
            ])
            respond(503, "Service Unavailable", body: "too many connections (\(admission.refusalReason)); try again later\n", connection)
            return
        }
        connection.setIdleTimeout(seconds: Self.requestTimeoutSeconds)
    }

    func connection(_ connection: Connection, received bytes: [UInt8]) {
        guard !isAnswered else { return }
        switch parser.receive(bytes) {
        case .incomplete:
            return
        case .invalid(let reason):
            context.environment.log(.info, "metrics.bad_request", connection, ["client": connection.peer.host, "reason": reason])
            respond(400, "Bad Request", body: "bad request: \(reason)\n", connection)
        case .request(let request):
            route(request, connection)
        }
    }

    private func route(_ request: HTTPRequest, _ connection: Connection) {
        guard request.path == "/metrics" else {
            respond(404, "Not Found", body: "not found: the metrics are at /metrics\n", connection)
            return
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            respond(405, "Method Not Allowed", body: "method \(request.method) not allowed: use GET\n", connection,
                    extraHeaders: "Allow: GET, HEAD\r\n")
            return
        }
        isAnswered = true
        connection.pauseReading()
        let context = self.context
        let includesBody = request.method == "GET"
        context.io.storagePool.submit { [self] in
            let text = context.metricsExposition()
            connection.loop.execute { [self] in
                guard !connection.isClosed else { return }
                respond(200, "OK", body: text, connection, contentType: MetricsExposition.contentType, includesBody: includesBody)
            }
        }
    }

    /// Sends one response and closes once it is written.
    private func respond(
        _ status: Int, _ reason: String, body: String, _ connection: Connection,
        contentType: String = "text/plain; charset=utf-8", extraHeaders: String = "", includesBody: Bool = true
    ) {
        isAnswered = true
        let bodyBytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(bodyBytes.count)\r\n"
            + extraHeaders + "Connection: close\r\n\r\n"
        connection.send(Array(head.utf8) + (includesBody ? bodyBytes : []))
        connection.closeAfterFlushing()
    }

    func connectionDrained(_ connection: Connection) {}

    func connectionTimedOut(_ connection: Connection) {
        connection.close()
    }

    func connectionShutdownRequested(_ connection: Connection) {
        if !isAnswered { connection.close() }
    }

    func connectionSecured(_ connection: Connection) {}

    func connectionTLSFailed(_ connection: Connection, reason: String) {}

    func connectionClosed(_ connection: Connection) {}
}

extension ServerContext {
    /// The metrics text now: counters, the queue by state (read from disk) and the process's memory and
    /// descriptors. Blocking: call it from the storage pool.
    func metricsExposition() -> String {
        var queueFigures: MetricsExposition.QueueFigures?
        // A queue that cannot be read leaves its gauges out rather than reporting an empty queue.
        if let queue = sinks.queue, let messages = try? queue.scan() {
            var figures = MetricsExposition.QueueFigures()
            let now = environment.clock.now()
            for message in messages {
                let state = message.location == .failed ? "failed" : (message.state.isHeld ? "held" : "active")
                figures.messages[state, default: 0] += 1
                let age = max(0, now.seconds - message.envelope.arrival.seconds)
                figures.oldestAgeSeconds[state] = max(figures.oldestAgeSeconds[state] ?? 0, age)
            }
            queueFigures = figures
        }
        let counters = metrics.snapshot
        var listeners = Set(configuration.listenerSpecs.map(\.name))
        listeners.formUnion(counters.connections.keys)
        return MetricsExposition(
            counters: counters, listeners: listeners.sorted(), openConnections: io.registry.count,
            queue: queueFigures, process: ProcessStatistics.current()
        ).render()
    }
}
