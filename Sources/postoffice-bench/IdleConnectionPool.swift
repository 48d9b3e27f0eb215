// IdleConnectionPool: opens thousands of SMTP connections to a loopback server and holds them silent.
// One thread drives them with poll(2) (Glibc's module does not export epoll; only the few hundred in
// progress are polled each turn): connect, non-blocking and bound first to one of 127.0.0.2–250 so the
// ephemeral port range is never the limit; read the 220 greeting; optionally EHLO; then idle. Every
// phase has a deadline, so a stalled accept shows up as a counted failure, never as a hang.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Idle SMTP clients held open against one server.
final class IdleConnectionPool {
    struct Options {
        var port: UInt16
        var count: Int
        /// Connections between `connect` and idle at any moment.
        var concurrency = 200
        /// Send EHLO after the greeting (the session then idles in its "ready for MAIL" state).
        var sendsHello = true
        /// Source addresses 127.0.0.`first` … 127.0.0.`last`, used in turn.
        var firstSourceOctet: UInt32 = 2
        var lastSourceOctet: UInt32 = 250
        /// The whole opening phase.
        var timeoutSeconds = 180.0
        /// From `connect` to idle, for one connection.
        var connectionTimeoutSeconds = 10.0
        /// Stop opening more once this many failed.
        var maximumFailures = 200
    }

    /// How the opening phase went.
    struct OpenReport {
        var established: Int
        var failed: Int
        var notAttempted: Int
        var seconds: Double
        /// Failure reasons and how often each was seen.
        var failures: [String: Int]

        var failureSummary: String {
            failures.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value)× \($0.key)" }.joined(separator: "; ")
        }
    }

    private enum Phase: UInt8 {
        case unused, connecting, awaitingGreeting, awaitingHello, idle, closed
        var isInProgress: Bool { self == .connecting || self == .awaitingGreeting || self == .awaitingHello }
    }

    private struct Slot {
        var fd: Int32 = -1
        var phase = Phase.unused
        var startedAt: UInt64 = 0
        var buffer: [UInt8] = []
    }

    let options: Options
    private var slots: [Slot]
    /// Indices of the slots between `connect` and idle.
    private var inProgress: [Int] = []
    private var failed = 0
    private var failures: [String: Int] = [:]
    /// Connections that were idle and then heard from the server (a 421, a close), with the first such text.
    private(set) var droppedCount = 0
    private(set) var firstDropReason: String?
    private(set) var idleCount = 0
    private let hello = Array("EHLO idle.example.test\r\n".utf8)
    private var scratch = [UInt8](repeating: 0, count: 4096)

    init(options: Options) {
        precondition(options.count > 0 && options.concurrency > 0 && options.firstSourceOctet <= options.lastSourceOctet)
        self.options = options
        slots = Array(repeating: Slot(), count: options.count)
    }

    deinit { close() }

    /// Opens the connections; returns when all are idle or failed, or the phase deadline passed.
    /// `progress` is called with the idle count every 1,000 connections.
    func open(progress: (Int) -> Void = { _ in }) -> OpenReport {
        let start = MonotonicClock.now()
        let deadline = start + UInt64(options.timeoutSeconds * 1e9)
        let perConnection = UInt64(options.connectionTimeoutSeconds * 1e9)
        var next = 0
        var descriptors: [pollfd] = []
        var lastSweep = start
        var lastProgress = 0
        while next < options.count || !inProgress.isEmpty {
            let now = MonotonicClock.now()
            guard now < deadline else { break }
            while next < options.count && inProgress.count < options.concurrency && failed < options.maximumFailures {
                launch(next)
                next += 1
            }
            if inProgress.isEmpty { break }  // nothing left to wait for (all launched, or too many failures)
            let watched = inProgress
            descriptors = watched.map { index in
                let writable = slots[index].phase == .connecting ? Int16(POLLOUT) : 0
                return pollfd(fd: slots[index].fd, events: Int16(POLLIN) | writable, revents: 0)
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), 100)
            if ready < 0 && errno != EINTR { break }
            if ready > 0 {
                for (position, index) in watched.enumerated() where descriptors[position].revents != 0 {
                    handle(index, events: descriptors[position].revents)
                }
            }
            if now - lastSweep > 250_000_000 {
                // A fresh reading: slots launched in this pass started after `now`.
                let sweep = MonotonicClock.now()
                lastSweep = sweep
                for index in inProgress where sweep > slots[index].startedAt + perConnection {
                    fail(index, slots[index].phase == .connecting ? "connect timed out" : "no reply within \(Int(options.connectionTimeoutSeconds)) s")
                }
            }
            inProgress.removeAll { !slots[$0].phase.isInProgress }
            if idleCount / 1000 > lastProgress / 1000 {
                lastProgress = idleCount
                progress(idleCount)
            }
        }
        for index in inProgress where slots[index].phase.isInProgress {
            fail(index, "opening phase deadline (\(Int(options.timeoutSeconds)) s) passed")
        }
        inProgress = []
        return OpenReport(established: idleCount, failed: failed, notAttempted: options.count - next,
                          seconds: MonotonicClock.seconds(since: start), failures: failures)
    }

    /// Looks (without waiting) for idle connections the server has written to or closed, closes them and
    /// counts them in ``droppedCount``. Returns the number still idle.
    @discardableResult
    func checkHeld() -> Int {
        let idle = slots.indices.filter { slots[$0].phase == .idle }
        var descriptors = idle.map { pollfd(fd: slots[$0].fd, events: Int16(POLLIN), revents: 0) }
        guard !descriptors.isEmpty, poll(&descriptors, nfds_t(descriptors.count), 0) > 0 else { return idleCount }
        for (position, index) in idle.enumerated() where descriptors[position].revents != 0 {
            drop(index)
        }
        return idleCount
    }

    /// Closes every socket (the server sees a FIN on each).
    func close() {
        for index in slots.indices where slots[index].fd >= 0 {
            Glibc.close(slots[index].fd)
            slots[index].fd = -1
            slots[index].phase = .closed
        }
        idleCount = 0
    }

    // MARK: - Internals

    private func launch(_ index: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        slots[index].startedAt = MonotonicClock.now()
        guard fd >= 0 else {
            record("socket: \(Self.describe(errno))")
            return
        }
        slots[index].fd = fd
        slots[index].phase = .connecting
        inProgress.append(index)
        // IP_BIND_ADDRESS_NO_PORT (24): pick the port at connect, by the whole 4-tuple, not at bind.
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_IP), 24, &one, socklen_t(MemoryLayout<Int32>.size))
        let span = options.lastSourceOctet - options.firstSourceOctet + 1
        var source = Self.loopback(octet: options.firstSourceOctet + UInt32(index) % span, port: 0)
        let bound = withUnsafePointer(to: &source) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            fail(index, "bind: \(Self.describe(errno))")
            return
        }
        var target = Self.loopback(octet: 1, port: options.port)
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected == 0 {
            slots[index].phase = .awaitingGreeting
        } else if errno != EINPROGRESS {
            fail(index, "connect: \(Self.describe(errno))")
        }
    }

    private func handle(_ index: Int, events: Int16) {
        guard index >= 0 && index < slots.count, slots[index].fd >= 0 else { return }
        switch slots[index].phase {
        case .connecting:
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(slots[index].fd, SOL_SOCKET, SO_ERROR, &code, &length)
            guard code == 0 else {
                fail(index, "connect: \(Self.describe(code))")
                return
            }
            slots[index].phase = .awaitingGreeting
            if events & Int16(POLLIN) != 0 { readReplies(index) }
        case .awaitingGreeting, .awaitingHello:
            readReplies(index)
        case .idle:
            drop(index)
        case .unused, .closed:
            break
        }
    }

    /// Reads what the server sent and acts on each complete reply.
    private func readReplies(_ index: Int) {
        let fd = slots[index].fd
        let count = scratch.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard count > 0 else {
            fail(index, count == 0 ? "closed by the server before its reply" : "read: \(Self.describe(errno))")
            return
        }
        slots[index].buffer += scratch[..<count]
        while slots[index].phase.isInProgress, let line = Self.takeReply(&slots[index].buffer) {
            let code = line.count >= 3 ? Int(String(decoding: line.prefix(3), as: UTF8.self)) : nil
            switch slots[index].phase {
            case .awaitingGreeting where code == 220:
                if options.sendsHello {
                    let sent = hello.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    guard sent == hello.count else {
                        fail(index, "send EHLO: \(sent < 0 ? Self.describe(errno) : "short write")")
                        return
                    }
                    slots[index].phase = .awaitingHello
                } else {
                    becomeIdle(index)
                }
            case .awaitingHello where code == 250:
                becomeIdle(index)
            default:
                fail(index, "unexpected reply: " + String(decoding: line.prefix(80), as: UTF8.self))
            }
        }
    }

    /// Removes and returns the last line of the first complete reply in `buffer` (CRLF stripped), if any.
    static func takeReply(_ buffer: inout [UInt8]) -> ArraySlice<UInt8>? {
        var start = 0
        while let newline = buffer[start...].firstIndex(of: 10) {
            let line = buffer[start..<newline]
            start = newline + 1
            if line.count >= 4 && line[line.startIndex + 3] == UInt8(ascii: "-") { continue }
            let last = Array(line.last == 13 ? line.dropLast() : line)[...]
            buffer.removeFirst(start)
            return last
        }
        return nil
    }

    private func becomeIdle(_ index: Int) {
        slots[index].phase = .idle
        slots[index].buffer = []
        idleCount += 1
    }

    /// An idle connection the server spoke on or closed.
    private func drop(_ index: Int) {
        let count = scratch.withUnsafeMutableBytes { read(slots[index].fd, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        if firstDropReason == nil {
            firstDropReason = count > 0
                ? "server sent: " + String(decoding: scratch[..<min(count, 80)], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                : count == 0 ? "closed by the server" : "read: \(Self.describe(errno))"
        }
        Glibc.close(slots[index].fd)
        slots[index].fd = -1
        slots[index].phase = .closed
        idleCount -= 1
        droppedCount += 1
    }

    /// Closes a connection that did not reach idle (the open loop drops it from `inProgress`).
    private func fail(_ index: Int, _ reason: String) {
        if slots[index].fd >= 0 { Glibc.close(slots[index].fd) }
        slots[index].fd = -1
        slots[index].phase = .closed
        slots[index].buffer = []
        record(reason)
    }

    private func record(_ reason: String) {
        failed += 1
        failures[reason, default: 0] += 1
    }

    private static func loopback(octet: UInt32, port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = (0x7f00_0000 | octet).bigEndian
        return address
    }

    static func describe(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }
}
