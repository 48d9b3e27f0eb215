// FloorServer: `postoffice-bench floor-server`, the cost no SMTP server can go below on this kernel and file
// system. It answers smtp-source with canned replies (no parsing beyond finding RCPT addresses and the final
// dot) and does only the durable part of a delivery: create in tmp/, write, fsync, close, link into each
// recipient's new/, fsync new/ (group-committed, as PostOffice does), then the 250. One thread per connection.
// With --relay-to it is the relay floor instead: the message is fsync'd into DIR/queue (and the directory, in
// a batch), the 250 goes out, and FloorRelay sends it on and unlinks it.

import Foundation

/// The floor server: a listening socket, a thread per connection, and a shared directory-fsync batcher.
final class FloorServer: @unchecked Sendable {
    let port: UInt16
    let root: String
    private let committer = DirectorySyncBatcher()
    private let lock = NSLock()
    private var knownMailboxes: Set<String> = []
    private var sequence = 0
    /// Set for the relay floor: where durable messages go next.
    private let relay: FloorRelay?

    init(port: UInt16, root: String, relay: FloorRelay? = nil) {
        self.port = port
        self.root = root
        self.relay = relay
    }

    static let help = """
        Usage: postoffice-bench floor-server --port P --root DIR [--pid-file FILE] [--relay-to HOST:PORT [--connections N]]
          Serves smtp-source on 127.0.0.1:P with canned SMTP replies and delivers each message the
          cheapest durable way: DIR/<local part>/tmp → fsync → link into DIR/<local part>/new → fsync(new/)
          (one directory fsync per batch of concurrent deliveries). Runs until killed.
          --relay-to: the relay floor — DIR/queue/<name> written and fsync'd, fsync(queue/) in a batch, the
          250, then the message sent from memory to HOST:PORT over N (default 20) persistent connections
          (MAIL, RCPT, DATA pipelined) and its file unlinked.
        """

    /// Parses `floor-server` options and runs until killed.
    static func main(_ arguments: [String]) throws {
        var port: UInt16?
        var root: String?
        var pidFile: String?
        var relayTo: String?
        var connections = 20
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--port": port = iterator.next().flatMap { UInt16($0) }
            case "--root": root = iterator.next()
            case "--pid-file": pidFile = iterator.next()
            case "--relay-to": relayTo = iterator.next()
            case "--connections": connections = iterator.next().flatMap { Int($0) } ?? connections
            case "--help", "-h":
                print(help)
                return
            default: throw BenchmarkError("floor-server: unknown option \(argument)\n\(help)")
            }
        }
        guard let port, let root else { throw BenchmarkError(help) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var relay: FloorRelay?
        if let relayTo {
            guard let next = FloorRelay.parse(relayTo), connections > 0 else { throw BenchmarkError("floor-server: --relay-to HOST:PORT\n\(help)") }
            try FileManager.default.createDirectory(atPath: root + "/queue", withIntermediateDirectories: true)
            relay = FloorRelay(host: next.host, port: next.port, connections: connections)
        }
        let server = FloorServer(port: port, root: root, relay: relay)
        let listener = try server.listen()
        if let pidFile { try "\(getpid())\n".write(toFile: pidFile, atomically: true, encoding: .utf8) }
        signal(SIGPIPE, SIG_IGN)
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let thread = Thread { server.serve(client) }
            thread.stackSize = 256 * 1024
            thread.start()
        }
    }

    private func listen() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchmarkError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 1024) == 0 else { throw BenchmarkError("bind/listen 127.0.0.1:\(port): errno \(errno)") }
        return fd
    }

    /// One connection: canned replies, one delivery per DATA.
    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard send(fd, "220 floor ESMTP\r\n") else { return }
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var pending: [UInt8] = []
        var recipients: [String] = []
        var envelope: [UInt8] = []
        var inData = false
        var body: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            var fresh = count
            if inData {
                body.append(contentsOf: buffer[0..<count])
            } else {
                pending.append(contentsOf: buffer[0..<count])
            }
            // Commands: one line at a time (smtp-source waits for each reply; no PIPELINING is offered).
            while !inData, let end = Self.lineEnd(pending) {
                let line = pending[0..<end]
                pending.removeFirst(end + 2)
                let verb = String(decoding: line.prefix(4), as: UTF8.self).uppercased()
                switch verb {
                case "RCPT":
                    recipients.append(Self.localPart(String(decoding: line, as: UTF8.self)))
                    envelope += line + [13, 10]
                    guard send(fd, "250 2.1.5 Ok\r\n") else { return }
                case "MAIL":
                    envelope = Array(line) + [13, 10]
                    guard send(fd, "250 2.1.0 Ok\r\n") else { return }
                case "DATA":
                    inData = true
                    body = pending
                    fresh = pending.count
                    pending = []
                    guard send(fd, "354 End data with <CR><LF>.<CR><LF>\r\n") else { return }
                case "QUIT":
                    _ = send(fd, "221 2.0.0 Bye\r\n")
                    return
                case "EHLO", "HELO": guard send(fd, "250 floor\r\n") else { return }
                default: guard send(fd, "250 2.0.0 Ok\r\n") else { return }
                }
            }
            if inData, let end = Self.endOfData(body, fresh: fresh) {
                let rest = Array(body[end.rest...])
                body.removeSubrange(end.body...)
                if let relay {
                    guard let path = enqueue(body) else {
                        _ = send(fd, "451 4.3.0 floor queueing failed\r\n")
                        return
                    }
                    guard send(fd, "250 2.0.0 Ok: queued as FLOOR\r\n") else { return }
                    relay.enqueue(FloorRelay.Message(path: path, envelope: envelope + Array("DATA\r\n".utf8),
                                                     recipientCount: recipients.count, body: body + [46, 13, 10]))
                } else {
                    guard deliver(body, to: recipients) else {
                        _ = send(fd, "451 4.3.0 floor delivery failed\r\n")
                        return
                    }
                    guard send(fd, "250 2.0.0 Ok: queued as FLOOR\r\n") else { return }
                }
                inData = false
                recipients = []
                body = []
                pending = rest
            }
        }
    }

    /// The durable part of queueing: one file written and fsync'd in queue/, and queue/ fsync'd in a batch.
    private func enqueue(_ body: [UInt8]) -> String? {
        lock.lock()
        sequence += 1
        let path = root + "/queue/\(getpid())_\(sequence)"
        lock.unlock()
        guard write(body, toNewFile: path) else { return nil }
        return committer.sync([root + "/queue"]) ? path : nil
    }

    /// Creates `path`, writes `body`, fsyncs and closes it.
    private func write(_ body: [UInt8], toNewFile path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var offset = 0
        let written = body.withUnsafeBytes { raw -> Bool in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
        return written && fsync(fd) == 0
    }

    /// The durable part of a delivery: one file written and fsync'd, linked into every recipient's new/,
    /// and each new/ fsync'd in a batch with the other deliveries in flight.
    private func deliver(_ body: [UInt8], to recipients: [String]) -> Bool {
        guard let first = recipients.first else { return false }
        let name: String
        do {
            lock.lock()
            sequence += 1
            name = "\(time(nil)).F\(getpid())_\(sequence).floor"
            for recipient in recipients where !knownMailboxes.contains(recipient) {
                for sub in ["", "/tmp", "/new", "/cur"] { mkdir(root + "/" + recipient + sub, 0o700) }
                knownMailboxes.insert(recipient)
            }
            lock.unlock()
        }
        let temporary = root + "/" + first + "/tmp/" + name
        guard write(body, toNewFile: temporary) else { return false }
        var directories: [String] = []
        for recipient in recipients {
            let directory = root + "/" + recipient + "/new"
            guard link(temporary, directory + "/" + name) == 0 || errno == EEXIST else { return false }
            directories.append(directory)
        }
        unlink(temporary)
        return committer.sync(directories)
    }

    private func send(_ fd: Int32, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
    }

    private static func lineEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 13 && bytes[index + 1] == 10 { return index }
        return nil
    }

    /// Where the data ends: the body's length (it keeps its own final CRLF) and where the bytes after the
    /// final ".\r\n" start; nil while the final dot has not arrived. Only the newest `fresh` bytes (and the
    /// four before them) are searched, so a large message is scanned once.
    private static func endOfData(_ bytes: [UInt8], fresh: Int) -> (body: Int, rest: Int)? {
        if bytes.starts(with: [46, 13, 10]) { return (0, 3) }
        guard bytes.count >= 5 else { return nil }
        var index = max(0, bytes.count - fresh - 4)
        while index + 5 <= bytes.count {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 46, bytes[index + 3] == 13, bytes[index + 4] == 10 {
                return (index + 2, index + 5)
            }
            index += 1
        }
        return nil
    }

    /// `RCPT TO:<1alice@example.test>` → `1alice` (only the characters a directory name may hold).
    private static func localPart(_ line: String) -> String {
        let start = line.firstIndex(of: "<").map { line.index(after: $0) } ?? line.startIndex
        let end = line[start...].firstIndex(of: "@") ?? line[start...].firstIndex(of: ">") ?? line.endIndex
        let name = line[start..<end].filter { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" }
        return name.isEmpty || name.hasPrefix(".") ? "postmaster" : String(name)
    }
}

/// Group commit of directory fsyncs: a caller's directories are fsync'd by the next batch to start, and the
/// caller returns when that batch has finished; one batch runs at a time (as PostOffice's commit batches do).
final class DirectorySyncBatcher: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: Set<String> = []
    private var nextBatch = 1
    private var finishedBatch = 0
    private var running = false
    private var failed: Set<Int> = []

    func sync(_ directories: [String]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        pending.formUnion(directories)
        let mine = nextBatch
        while finishedBatch < mine {
            if running {
                condition.wait()
                continue
            }
            running = true
            let batch = nextBatch
            nextBatch += 1
            let work = pending
            pending = []
            condition.unlock()
            var ok = true
            for directory in work {
                let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if fd < 0 || fsync(fd) != 0 { ok = false }
                if fd >= 0 { close(fd) }
            }
            condition.lock()
            if !ok { failed.insert(batch) }
            finishedBatch = batch
            running = false
            condition.broadcast()
        }
        return !failed.contains(mine)
    }
}
