// FloorRelay: the outbound half of `floor-server --relay-to`, the cheapest relay on this kernel — a message
// already fsync'd into the floor's queue directory is sent from memory over one of a fixed number of
// persistent connections to the next hop (MAIL, RCPT and DATA pipelined, the body as received, the final
// dot), then its queue file is unlinked. No parsing, no retries, no state records: what no relaying MTA
// can go below.

import Foundation

/// Relays queued messages over `connections` persistent SMTP connections to one next hop.
final class FloorRelay: @unchecked Sendable {
    /// One queued message: its queue file and what goes on the wire.
    struct Message {
        var path: String
        /// "MAIL FROM:<…>\r\nRCPT TO:<…>\r\n…DATA\r\n" as received (the next hop offers PIPELINING).
        var envelope: [UInt8]
        var recipientCount: Int
        /// The body as received, dot-stuffed, with its final ".\r\n".
        var body: [UInt8]
    }

    private let host: String
    private let port: UInt16
    private let condition = NSCondition()
    private var waiting: [Message] = []
    private var head = 0

    init(host: String, port: UInt16, connections: Int) {
        self.host = host
        self.port = port
        for index in 0..<connections {
            let thread = Thread { [self] in run(index) }
            thread.stackSize = 256 * 1024
            thread.start()
        }
    }

    /// `HOST:PORT` → (host, port).
    static func parse(_ text: String) -> (host: String, port: UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        return (String(text[..<colon]), port)
    }

    /// Hands a durable message to the senders (called after the 250 went out).
    func enqueue(_ message: Message) {
        condition.lock()
        waiting.append(message)
        condition.signal()
        condition.unlock()
    }

    private func next() -> Message {
        condition.lock()
        defer { condition.unlock() }
        while head == waiting.count { condition.wait() }
        let message = waiting[head]
        head += 1
        if head > 1024 && head * 2 > waiting.count {
            waiting.removeFirst(head)
            head = 0
        }
        return message
    }

    /// One sender: a connection kept open, one message at a time; a failure reconnects and sends again
    /// (the sink is up for the whole benchmark, so this only covers a dropped connection).
    private func run(_ index: Int) {
        var connection: LineConnection?
        while true {
            let message = next()
            var attempts = 0
            while true {
                do {
                    if connection == nil {
                        let fresh = try LineConnection(host: host, port: port, timeoutSeconds: 30)
                        try fresh.expect(220)
                        try fresh.send("EHLO floor.test\r\n")
                        try fresh.expect(250)
                        connection = fresh
                    }
                    guard let connection else { continue }
                    try connection.send(message.envelope[...])
                    try connection.expect(250)
                    for _ in 0..<message.recipientCount { try connection.expect(250) }
                    try connection.expect(354)
                    try connection.send(message.body[...])
                    try connection.expect(250)
                    unlink(message.path)
                    break
                } catch {
                    connection?.close()
                    connection = nil
                    attempts += 1
                    FileHandle.standardError.write(Data("floor relay \(index): \(error) (attempt \(attempts))\n".utf8))
                    if attempts >= 5 { break }
                    usleep(100_000)
                }
            }
        }
    }
}
