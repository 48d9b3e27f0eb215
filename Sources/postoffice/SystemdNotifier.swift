// SystemdNotifier: tells systemd (Type=notify) how the server is doing — READY=1 once it listens,
// RELOADING=1 with MONOTONIC_USEC then READY=1 around a SIGHUP reload, STOPPING=1 at shutdown — as
// datagrams to $NOTIFY_SOCKET (sd_notify(3)'s protocol, without libsystemd). Without the variable it does
// nothing, so the same binary runs under systemd, another supervisor or a terminal.

#if canImport(Glibc)
import Glibc
#endif

/// Sends sd_notify state lines to the service manager.
final class SystemdNotifier: @unchecked Sendable {
    /// The socket, connected to the manager's notify socket; -1 when there is none.
    private let fd: Int32
    /// Where the notify socket is, for the log ("" when not under a notify-aware manager).
    let socketName: String

    /// Connects to `$NOTIFY_SOCKET` (a path, or an abstract name starting with '@') when it is set. Done
    /// before privileges are dropped, so the connected socket keeps working whatever user the server runs as.
    init(environment name: String? = getenv("NOTIFY_SOCKET").map { String(cString: $0) }) {
        socketName = name ?? ""
        guard let name, let address = Self.address(name) else {
            fd = -1
            return
        }
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else {
            fd = -1
            return
        }
        var storage = address.storage
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, address.length) }
        }
        if connected != 0 {
            close(socket)
            fd = -1
            return
        }
        fd = socket
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// True when a notify socket was found and connected.
    var isActive: Bool { fd >= 0 }

    /// READY=1: startup finished (listening) or a reload finished.
    func ready(status: String? = nil) { send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? [])) }

    /// RELOADING=1 with the CLOCK_MONOTONIC time in microseconds, which systemd 253+ wants with it.
    func reloading() { send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"]) }

    /// STOPPING=1: shutdown has begun.
    func stopping() { send(["STOPPING=1"]) }

    /// Sends one datagram of newline-separated assignments. Failures are ignored, as sd_notify's are:
    /// the manager is told nothing, and the server goes on serving.
    func send(_ assignments: [String]) {
        guard fd >= 0 else { return }
        let message = Array((assignments.joined(separator: "\n") + "\n").utf8)
        _ = message.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The socket address of a NOTIFY_SOCKET value: an absolute path, or '@' for the abstract namespace
    /// (the '@' becomes a leading NUL and the length covers the name exactly, no terminator). nil when
    /// the value is neither, or too long for sun_path.
    static func address(_ name: String) -> (storage: sockaddr_un, length: socklen_t)? {
        var bytes = Array(name.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@"), bytes.count > 1 else {
            return nil
        }
        let isAbstract = first == UInt8(ascii: "@")
        if isAbstract { bytes[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path needs room for its terminating NUL; an abstract name does not have one.
        guard bytes.count <= capacity - (isAbstract ? 0 : 1) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path) ?? 2
        return (address, socklen_t(pathOffset + bytes.count + (isAbstract ? 0 : 1)))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
