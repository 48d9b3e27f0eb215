// SocketAddress: an IPv4 or IPv6 address and port, parsed from "host:port" / "[v6]:port", or a Unix-domain
// socket path ("/run/postoffice/lmtp.sock"), and converted to and from sockaddr. Used for listeners, peers
// in logs, and per-client limits.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

/// An IP address and port, or a Unix-domain socket path.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address in presentation form: `127.0.0.1` or `::1`; `unix` for a Unix-domain socket.
    public var host: String
    /// The port; 0 for a Unix-domain socket.
    public var port: Int
    /// The path of a Unix-domain socket (empty for an unnamed peer socket), nil for an IP address.
    public var unixPath: String?
    public var isIPv6: Bool { unixPath == nil && host.contains(":") }
    /// True for a Unix-domain socket.
    public var isUnix: Bool { unixPath != nil }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// A Unix-domain socket at `path` (absolute; at most 107 bytes, the size of `sun_path` less its NUL).
    public init(unixPath path: String) {
        host = "unix"
        port = 0
        unixPath = path
    }

    /// Longest Unix socket path that fits `sockaddr_un.sun_path` with its terminating NUL.
    public static let maximumUnixPathLength = 107

    /// Parses `127.0.0.1:2525`, `[::1]:2525` or `localhost:2525` (localhost means 127.0.0.1), and with
    /// `allowsUnixPath` an absolute Unix socket path (`/run/postoffice/lmtp.sock`, also written
    /// `unix:/run/postoffice/lmtp.sock`). Returns nil for anything that is not a literal address and port
    /// 0...65535 or an allowed, usable path.
    public init?(parsing text: String, allowsUnixPath: Bool = false) {
        let path = text.hasPrefix("unix:") ? String(text.dropFirst(5)) : text
        if allowsUnixPath && path.hasPrefix("/") {
            guard path.utf8.count <= Self.maximumUnixPathLength, !path.utf8.contains(0), !path.hasSuffix("/") else {
                return nil
            }
            self.init(unixPath: path)
            return
        }
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { return nil }
        }
        guard let port = Int(portPart), (0...65535).contains(port) else { return nil }
        if hostPart == "localhost" { hostPart = "127.0.0.1" }
        if hostPart.isEmpty || hostPart == "*" { hostPart = "0.0.0.0" }
        let host = String(hostPart)
        guard Self.isLiteral(host) else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String {
        if let unixPath { return unixPath.isEmpty ? "unix" : "unix:" + unixPath }
        return isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback), and for Unix-domain sockets: connections
    /// that never leave the machine.
    public var isLoopback: Bool {
        if unixPath != nil { return true }
        if host == "::1" { return true }
        if host.hasPrefix("127.") { return true }
        if host.lowercased().hasPrefix("::ffff:127.") { return true }
        return false
    }

    static func isLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Calls `body` with this address as a sockaddr.
    package func withSockAddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        if let unixPath {
            var sa = sockaddr_un()
            sa.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(unixPath.utf8.prefix(Self.maximumUnixPathLength))
            withUnsafeMutableBytes(of: &sa.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        if isIPv6 {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = in_port_t(UInt16(port).bigEndian)
            _ = inet_pton(AF_INET6, host, &sa.sin6_addr)
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = in_port_t(UInt16(port).bigEndian)
            _ = inet_pton(AF_INET, host, &sa.sin_addr)
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Converts a sockaddr_storage filled by accept/getsockname.
    init?(storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let sa = UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr_in.self).pointee
            var addr = sa.sin_addr
            var buf = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            guard inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count)) != nil else { return nil }
            self.init(host: Self.string(buf), port: Int(UInt16(bigEndian: sa.sin_port)))
        case AF_INET6:
            let sa = UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr_in6.self).pointee
            var addr = sa.sin6_addr
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count)) != nil else { return nil }
            var host = Self.string(buf)
            // Report IPv4-mapped peers as plain IPv4 so per-IP limits and logs see one form.
            if host.lowercased().hasPrefix("::ffff:") && host.contains(".") { host = String(host.dropFirst(7)) }
            self.init(host: host, port: Int(UInt16(bigEndian: sa.sin6_port)))
        case AF_UNIX:
            // Peers of a listening Unix socket are usually unnamed: the path is empty then.
            var sa = UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr_un.self).pointee
            let path = withUnsafeBytes(of: &sa.sun_path) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            self.init(unixPath: path)
        default:
            return nil
        }
    }
}
