// ConnectionRegistry: the live connections of a server, with the global and per-client-IP caps.
// Shutdown walks it to ask every session to finish; tests read its counts to check nothing leaks.

import PostOfficeAccounts
import PostOfficeCore

final class ConnectionRegistry: @unchecked Sendable {
    private let lock = Lock()
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var perAddress: [String: Int] = [:]
    /// The address key each connection was counted under (a PROXY connection's may differ from its socket's).
    private var counted: [ObjectIdentifier: String] = [:]
    private var drainWaiters: [@Sendable () -> Void] = []
    private var cap = Int.max
    /// The most connections served at once: `max_connections`, lowered to what the descriptor limit allows
    /// (set once at start-up, before any connection).
    var maximumConnections: Int {
        get { lock.withLock { cap } }
        set { lock.withLock { cap = newValue } }
    }

    enum Admission: Equatable {
        case admitted
        case tooManyFromAddress
        case tooManyInAll

        /// The log's name for a refusal (the setting that was reached).
        var refusalReason: String {
            switch self {
            case .admitted: ""
            case .tooManyFromAddress: "connections_per_client"
            case .tooManyInAll: "max_connections"
            }
        }
    }

    /// Registers a connection unless a cap is reached. A refused connection is still registered (it gets
    /// a 421 before it closes), so the caller must always call `remove` when it finishes.
    ///
    /// `countsAddress` false (a PROXY protocol listener, whose socket peer is the proxy) checks only the
    /// global cap; ``admitAddress(_:limits:)`` counts the client once its header has named it.
    func admit(_ connection: Connection, limits: Limits, countsAddress: Bool = true) -> Admission {
        lock.withLock {
            let total = connections.count
            connections[ObjectIdentifier(connection)] = connection
            if total >= min(limits.maximumConnections, cap) {
                if countsAddress { _ = countAddress(of: connection, limits: limits) }
                return .tooManyInAll
            }
            return countsAddress ? countAddress(of: connection, limits: limits) : .admitted
        }
    }

    /// Counts a registered connection against its client address now (after a PROXY header replaced the
    /// peer) and checks the per-client cap.
    func admitAddress(_ connection: Connection, limits: Limits) -> Admission {
        lock.withLock {
            guard connections[ObjectIdentifier(connection)] != nil, counted[ObjectIdentifier(connection)] == nil else {
                return .admitted
            }
            return countAddress(of: connection, limits: limits)
        }
    }

    /// Under the lock: adds the connection to its address's count and says whether that count was full.
    private func countAddress(of connection: Connection, limits: Limits) -> Admission {
        // IPv6 clients count per /64, as the login throttle groups them: one host has a whole /64.
        let host = LoginThrottle.key(forClient: connection.peer.host)
        let fromAddress = perAddress[host, default: 0]
        perAddress[host] = fromAddress + 1
        counted[ObjectIdentifier(connection)] = host
        let exempt = connection.peer.isLoopback && !limits.limitsLoopbackConnections
        if fromAddress >= limits.connectionsPerAddress && !exempt { return .tooManyFromAddress }
        return .admitted
    }

    func remove(_ connection: Connection) {
        let waiters: [@Sendable () -> Void] = lock.withLock {
            guard connections.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return [] }
            if let host = counted.removeValue(forKey: ObjectIdentifier(connection)) {
                let n = perAddress[host, default: 1] - 1
                perAddress[host] = n > 0 ? n : nil
            }
            if connections.isEmpty {
                defer { drainWaiters = [] }
                return drainWaiters
            }
            return []
        }
        waiters.forEach { $0() }
    }

    /// How many connections `host` has now (the per-client count that `connections_per_client` caps).
    func connectionCount(forClient host: String) -> Int {
        lock.withLock { perAddress[LoginThrottle.key(forClient: host), default: 0] }
    }

    var count: Int { lock.withLock { connections.count } }

    var all: [Connection] { lock.withLock { Array(connections.values) } }

    /// Runs `body` once no connection is left (at once if none is).
    func whenEmpty(_ body: @escaping @Sendable () -> Void) {
        let now: Bool = lock.withLock {
            if connections.isEmpty { return true }
            drainWaiters.append(body)
            return false
        }
        if now { body() }
    }
}
