// DNSTransport: runs PostOfficeDNS's sans-I/O query engine over real sockets, blocking the calling thread
// (a fresh UDP socket per query, so a fresh random source port; TCP when the answer is truncated; poll()
// with the engine's timeouts). Meant for the storage pool (BlockingWorkPool), never an event loop thread.

#if canImport(Glibc)
import Glibc
#endif
import CLinuxEvents
import PostOfficeCore
import PostOfficeDNS

/// A blocking DNS client: one lookup can take up to timeout × servers × attempts seconds.
struct DNSTransport: Sendable {
    let configuration: DNSResolverConfiguration
    let random: any RandomSource
    let cache: DNSCache?
    /// Told about every query before it is sent (tests check the UDP → TCP fallback with it).
    let observer: (@Sendable (DNSOutgoingQuery) -> Void)?

    init(
        configuration: DNSResolverConfiguration, random: any RandomSource = SystemRandomSource(), cache: DNSCache? = nil,
        observer: (@Sendable (DNSOutgoingQuery) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.random = random
        self.cache = cache
        self.observer = observer
    }

    /// Resolves `name` / `type`, from the cache when it holds an unexpired result.
    func lookup(_ name: DNSName, _ type: DNSRecordType) -> DNSLookupResult {
        if let cached = cache?.lookup(name, type) { return cached }
        var engine = DNSQueryEngine(
            question: DNSQuestion(name: name, type: type), configuration: configuration, random: random)
        var action = engine.start()
        while true {
            switch action {
            case .finished(let result):
                cache?.store(result, for: name, type)
                return result
            case .send(let query):
                observer?(query)
                action = query.transport == .udp ? exchangeUDP(query, &engine) : exchangeTCP(query, &engine)
            case .wait:
                // Only answers to input; after a send the exchange functions never hand it back.
                action = engine.timerExpired()
            }
        }
    }

    /// RFC 5321 §5.1 routing for `domain`: the MX lookup, then addresses for the chosen hosts.
    func route(domain: DNSName, localNames: Set<DNSName>) -> Result<[MXRouting.Target], MXRouting.Failure> {
        MXRouting.hosts(for: domain, mxLookup: lookup(domain, .mx), localNames: localNames, random: random)
            .flatMap { hosts in MXRouting.targets(for: hosts) { lookup($0, $1) } }
    }

    // MARK: - Sockets

    private func openSocket(_ server: DNSServerAddress, type: Int32) -> Int32? {
        let family = server.address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        // Connected, so the kernel drops datagrams from other peers and reports ICMP unreachable as an error.
        let status = Self.socketAddress(server).withSockAddr { address, length in
            SystemCall.restarting { connect(fd, address, length) }
        }
        guard status == 0 || errno == EINPROGRESS else {
            close(fd)
            return nil
        }
        return fd
    }

    private func exchangeUDP(_ query: DNSOutgoingQuery, _ engine: inout DNSQueryEngine) -> DNSQueryEngine.Action {
        guard let fd = openSocket(query.server, type: Int32(SOCK_DGRAM.rawValue)) else { return engine.transportFailed() }
        defer { close(fd) }
        let sent = query.bytes.withUnsafeBytes { raw in SystemCall.restarting { send(fd, raw.baseAddress, raw.count, 0) } }
        guard sent == query.bytes.count else { return engine.transportFailed() }
        let deadline = Self.monotonicMilliseconds() + query.timeoutMilliseconds
        var buffer = [UInt8](repeating: 0, count: DNSMessage.maxLength)
        while true {
            guard Self.waitFor(fd, events: Int16(POLLIN), until: deadline) else { return engine.timerExpired() }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let received = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length)
                    }
                }
            }
            if received < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return engine.transportFailed()
            }
            guard let peer = withUnsafePointer(to: &storage, { SocketAddress(storage: $0) }),
                let address = IPAddress(peer.host)
            else { continue }
            let from = DNSServerAddress(address: address, port: UInt16(peer.port))
            let action = engine.receiveDatagram(Array(buffer[..<received]), from: from)
            if case .wait = action { continue }
            return action
        }
    }

    private func exchangeTCP(_ query: DNSOutgoingQuery, _ engine: inout DNSQueryEngine) -> DNSQueryEngine.Action {
        let deadline = Self.monotonicMilliseconds() + query.timeoutMilliseconds
        guard let fd = openSocket(query.server, type: Int32(SOCK_STREAM.rawValue)) else { return engine.transportFailed() }
        defer { close(fd) }
        var written = 0
        while written < query.bytes.count {
            guard Self.waitFor(fd, events: Int16(POLLOUT), until: deadline) else { return engine.timerExpired() }
            let count = query.bytes[written...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                // Also where a refused non-blocking connect shows up.
                if errno == EINTR || errno == EAGAIN { continue }
                return engine.transportFailed()
            }
            written += count
        }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            guard Self.waitFor(fd, events: Int16(POLLIN), until: deadline) else { return engine.timerExpired() }
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard received > 0 else { return engine.transportFailed() }
            let action = engine.receiveStream(buffer[..<received])
            if case .wait = action { continue }
            return action
        }
    }

    /// Polls until `fd` is ready for `events` (or has an error to report); false once `deadline` passes.
    private static func waitFor(_ fd: Int32, events: Int16, until deadline: Int) -> Bool {
        while true {
            let remaining = deadline - monotonicMilliseconds()
            guard remaining > 0 else { return false }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(min(remaining, Int(Int32.max))))
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return true }  // the next call on fd reports the error
        }
    }

    static func monotonicMilliseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int(time.tv_sec) * 1000 + Int(time.tv_nsec) / 1_000_000
    }

    private static func socketAddress(_ server: DNSServerAddress) -> SocketAddress {
        SocketAddress(host: server.address.description, port: Int(server.port))
    }
}
