// POP3TestClient: a minimal blocking POP3 client for tests: log in, list, retrieve (un-stuffed), delete, quit.

import PostOffice

/// A blocking POP3 client for tests.
public final class POP3TestClient {
    public let connection: LineClient
    /// The greeting line.
    public let greeting: String

    /// Connects and reads the greeting.
    public init(connectingTo address: SocketAddress, timeoutSeconds: Int = 10) throws {
        connection = try LineClient(connectingTo: address, timeoutSeconds: timeoutSeconds)
        greeting = try connection.readLine()
    }

    /// Sends a command and returns the status line.
    @discardableResult
    public func command(_ line: String) throws -> String {
        try connection.sendLine(line)
        return try connection.readLine()
    }

    /// USER and PASS; throws unless both answer +OK.
    public func login(_ user: String, password: String) throws {
        let u = try command("USER \(user)")
        guard u.hasPrefix("+OK") else { throw TestClientError("USER: \(u)") }
        let p = try command("PASS \(password)")
        guard p.hasPrefix("+OK") else { throw TestClientError("PASS: \(p)") }
    }

    /// Reads the lines of a multi-line response up to the terminating ".", un-stuffing leading dots.
    public func readMultiline() throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try connection.readLine()
            if line == "." { return lines }
            lines.append(line.hasPrefix("..") ? String(line.dropFirst()) : line)
        }
    }

    /// STAT: (count, octets).
    public func stat() throws -> (count: Int, octets: Int) {
        let line = try command("STAT")
        let parts = line.split(separator: " ")
        guard line.hasPrefix("+OK"), parts.count >= 3, let c = Int(parts[1]), let o = Int(parts[2]) else {
            throw TestClientError("STAT: \(line)")
        }
        return (c, o)
    }

    /// UIDL: message number to unique id.
    public func uniqueIDs() throws -> [Int: String] {
        let line = try command("UIDL")
        guard line.hasPrefix("+OK") else { throw TestClientError("UIDL: \(line)") }
        var map: [Int: String] = [:]
        for entry in try readMultiline() {
            let parts = entry.split(separator: " ")
            if parts.count == 2, let n = Int(parts[0]) { map[n] = String(parts[1]) }
        }
        return map
    }

    /// RETR n: the message lines, un-stuffed, without CRLF.
    public func retrieve(_ number: Int) throws -> [String] {
        let line = try command("RETR \(number)")
        guard line.hasPrefix("+OK") else { throw TestClientError("RETR: \(line)") }
        return try readMultiline()
    }

    /// QUIT; returns the status line.
    @discardableResult
    public func quit() throws -> String { try command("QUIT") }
}
