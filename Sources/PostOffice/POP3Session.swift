// POP3Session: drives one POP3 connection — feeds bytes to the sans-I/O engine and carries out its actions:
// login (with the failure delay and per-IP throttle), the locked Maildir snapshot, streaming RETR/TOP with
// back-pressure, and the UPDATE-state commit (deletions, and the S flag on retrieved messages).

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeMaildir
import PostOfficePOP3
import PostOfficeTLS

/// Confined to its connection's event loop, which is what makes the unchecked Sendable sound.
final class POP3Session: ConnectionHandler, @unchecked Sendable {
    private let context: ServerContext
    private let sessionID: String
    private let admission: ConnectionRegistry.Admission
    private var engine: POP3ServerStateMachine
    private var trace = WireTrace()
    private var lock: MaildirLock?
    private var maildir: Maildir?
    private var user: MailAddress?
    /// The snapshot taken at login, by storage key (the file's base name).
    private var messages: [String: MaildirMessage] = [:]
    /// The maildrop's `new/` and `cur/`, open from login to the end: RETR opens each file relative to them.
    private var directories: MessageDirectories?
    private var stream: MessageStream?
    private var isPumping = false
    private var retrievedCount = 0
    private var deletedCount = 0
    /// Bytes read and not yet added to the server's metrics: reported when the session ends, not on every
    /// read (each report takes the metrics lock and hashes the listener name).
    private var unreportedBytes = 0
    /// Input not yet given to the engine.
    private let input = SessionInputPump()

    /// `new/` and `cur/` held open for a session's RETRs and TOPs, so each opens its file with `openat` and the
    /// kernel does not walk the whole path again per message. Closed when the session lets go of it.
    private final class MessageDirectories: @unchecked Sendable {
        let new: Int32
        let cur: Int32

        /// Both directories (never through a symbolic link), or nil: the session then opens files by path.
        init?(_ maildir: Maildir) {
            let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
            let newDescriptor = Glibc.open(maildir.newPath, flags)
            let curDescriptor = Glibc.open(maildir.curPath, flags)
            // Fail before the properties are set, so deinit never closes a descriptor twice.
            guard newDescriptor >= 0, curDescriptor >= 0 else {
                if newDescriptor >= 0 { close(newDescriptor) }
                if curDescriptor >= 0 { close(curDescriptor) }
                return nil
            }
            new = newDescriptor
            cur = curDescriptor
        }

        deinit {
            close(new)
            close(cur)
        }

        /// The open message file, relative to its directory, and its size.
        func open(_ message: MaildirMessage, updatingAccessTime: Bool) throws(MaildirError) -> MaildirMessage.OpenFile {
            try message.openForStreaming(in: message.directory == .new ? new : cur, updatingAccessTime: updatingAccessTime)
        }
    }

    /// A message being sent: the open file and the stuffing state.
    private struct MessageStream {
        var fd: Int32
        var stuffer: POP3ByteStuffer
        /// The "+OK" line, sent together with the first bytes of the message.
        var head: [UInt8]
        /// Bytes of the file not yet read, by its size when opened (nil: unknown). A short read that brings it
        /// to exactly 0 is the end of the file, so the read that would return 0 is skipped; a file that grew
        /// since the open is read to its real end, as before; one that ends early is a read failure.
        var unreadBytes: Int?
    }

    /// Set once opening a message with O_NOATIME was refused (the server neither owns the files nor has
    /// CAP_FOWNER): later RETRs of the session then open without it, and do not ask again.
    private var updatesAccessTime = false

    private let tlsContext: TLSContext?
    /// "pop3" or "pop3s", as the metrics name the listener.
    private let listenerName: String
    /// The configuration in force when the session began.
    private let settings: PostOfficeConfiguration

    init(
        context: ServerContext, sessionID: String, admission: ConnectionRegistry.Admission, peer: String,
        tls: TLSContext?, isImplicitTLS: Bool
    ) {
        self.context = context
        self.sessionID = sessionID
        self.admission = admission
        tlsContext = tls
        // One copy of the configuration in force for the whole session (a reload applies to later sessions).
        let settings = context.configuration
        self.settings = settings
        var configuration = POP3ServerConfiguration(hostname: settings.hostname, limits: settings.limits)
        // Passwords travel in the clear only under TLS, or from a trusted network (default loopback) when the
        // configuration allows it (RFC 2595 §2).
        configuration.allowsPlaintextAuthentication = settings.allowsPlaintextAuthenticationOnLoopback
            && settings.plaintextAuthenticationNetworks.contains(address: peer)
        listenerName = isImplicitTLS ? "pop3s" : "pop3"
        configuration.isSTLSAvailable = tls != nil && !isImplicitTLS
        configuration.isTLSActive = isImplicitTLS
        engine = POP3ServerStateMachine(configuration: configuration)
    }

    func connectionOpened(_ connection: Connection) {
        // On pop3s the session opens only after the handshake.
        if connection.tlsDescription != nil { context.metrics.tlsHandshake(listener: listenerName) }
        context.environment.log(.info, "pop3.connect", connection, [
            "peer": connection.peer.description, "local": connection.local.description, "tls": connection.tlsDescription ?? "no",
        ])
        guard admission == .admitted else {
            context.environment.log(.warning, "pop3.refused", connection, ["reason": admission.refusalReason])
            connection.send(POP3Response.tooManyConnections.wireBytes)
            connection.closeAfterFlushing()
            return
        }
        if context.isShuttingDown {
            connection.send(POP3Response.shuttingDown.wireBytes)
            connection.closeAfterFlushing()
            return
        }
        connection.setIdleTimeout(seconds: settings.limits.pop3IdleTimeoutSeconds)
        perform(engine.start(), on: connection)
    }

    func connection(_ connection: Connection, received bytes: [UInt8]) {
        unreportedBytes += bytes.count
        if context.environment.isVerbose { context.environment.trace(trace.clientLines(bytes), from: "client", connection) }
        input.append(bytes)
        feed(connection)
    }

    /// Hands held input to the engine a command line at a time, while it waits for nothing (a login, a
    /// message being streamed, an UPDATE) and the client takes its replies. Input still held stops reading
    /// until it is used: pipelined LISTs from a client that never reads cost a bounded amount of memory.
    private func feed(_ connection: Connection) {
        let held = input.feed(
            wholeRun: { false },
            canContinue: { stream == nil && !engine.isAwaitingDecision && !engine.isClosed && connection.acceptsOutput },
            step: { perform(engine.receive($0), on: connection) })
        if connection.isClosed || engine.isClosed { input.removeAll() }
        if held && !input.isEmpty {
            connection.pauseReading(.backlog)
        } else {
            connection.resumeReading(.backlog)
        }
    }

    func connectionDrained(_ connection: Connection) {
        if stream != nil {
            if !isPumping { pump(connection) }
            return
        }
        feed(connection)
    }

    func connectionSecured(_ connection: Connection) {
        // The engine already treats the session as TLS since it sent +OK to STLS (RFC 2595 §4).
        context.metrics.tlsHandshake(listener: listenerName)
        context.environment.log(.info, "pop3.tls", connection, ["tls": connection.tlsDescription ?? ""])
    }

    func connectionTLSFailed(_ connection: Connection, reason: String) {
        context.metrics.tlsFailure(listener: listenerName)
        context.environment.log(.warning, "pop3.tls_failed", connection, ["reason": reason])
    }

    func connectionTimedOut(_ connection: Connection) {
        context.environment.log(.info, "pop3.timeout", connection)
        perform(engine.timedOut(), on: connection)
    }

    func connectionShutdownRequested(_ connection: Connection) {
        perform(engine.beginShutdown(), on: connection)
    }

    func connectionClosed(_ connection: Connection) {
        if let stream { close(stream.fd) }
        stream = nil
        context.metrics.received(bytes: unreportedBytes, listener: listenerName)
        unreportedBytes = 0
        directories = nil
        // A dropped connection deletes nothing (RFC 1939 §6): only the lock is released.
        lock?.release()
        lock = nil
        context.environment.log(.info, "pop3.disconnect", connection, [
            "user": user?.description ?? "", "retrieved": String(retrievedCount), "deleted": String(deletedCount),
        ])
    }

    // MARK: - Actions

    private func perform(_ initial: [POP3Action], on connection: Connection) {
        var actions = initial
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .send, .sendMultiline:
                if let bytes = action.wireBytes {
                    if context.environment.isVerbose { context.environment.trace(trace.serverLines(bytes), from: "server", connection) }
                    connection.send(bytes)
                }
            case .authenticate(let login, let password):
                // Password hashing and the Maildir scan wait on CPU and disk: do them on the storage pool.
                let rest = Array(actions[index...])
                connection.pauseReading()
                let peer = connection.peer
                context.io.storagePool.submit { [self] in
                    let outcome = Self.openMaildrop(login: login, password: password, peer: peer, context: context, connection: connection)
                    connection.loop.execute { [self] in finishLogin(outcome, rest: rest, connection: connection) }
                }
                return
            case .authenticateAPOP:
                // APOP needs the clear password, which we never store; refuse like any failed login.
                actions += engine.authenticationFinished(.failure)
            case .sendMessage(let key, let octets, let bodyLineLimit):
                guard let message = messages[key] else {
                    actions += engine.messageUnavailable()
                    continue
                }
                let fd: Int32
                var size: Int?
                do {
                    if let directories {
                        let file = try directories.open(message, updatingAccessTime: updatesAccessTime)
                        updatesAccessTime = file.updatesAccessTime
                        fd = file.descriptor
                        size = file.byteCount
                    } else {
                        fd = try message.openForReading()
                    }
                } catch {
                    context.environment.log(.warning, "pop3.message_unavailable", connection, ["file": message.name])
                    actions += engine.messageUnavailable()
                    continue
                }
                stream = MessageStream(
                    fd: fd, stuffer: POP3ByteStuffer(bodyLineLimit: bodyLineLimit),
                    head: POP3Response.messageFollows(octets: octets, bodyLineLimit: bodyLineLimit).wireBytes,
                    unreadBytes: size)
                if bodyLineLimit == nil {
                    retrievedCount += 1
                    context.metrics.pop3Retrieved()
                }
                pump(connection)
                // Most messages go out within that call. A larger one waits for the socket to drain: read
                // no commands meanwhile (pausing only now saves two epoll_ctl calls per small RETR).
                if stream != nil { connection.pauseReading() }
                return
            case .commit(let deleted, let retrieved):
                let rest = Array(actions[index...])
                let snapshot = messages
                let maildir = self.maildir
                connection.pauseReading()
                context.io.storagePool.submit { [self] in
                    let result = Self.update(
                        deleted: deleted, retrieved: retrieved, messages: snapshot, maildir: maildir,
                        context: context, connection: connection)
                    connection.loop.execute { [self] in
                        deletedCount += result.deletedCount
                        context.metrics.pop3Deleted(result.deletedCount)
                        lock?.release()
                        lock = nil
                        context.environment.log(.info, "pop3.update", connection, ["user": user?.description ?? "", "deleted": String(deletedCount)])
                        connection.resumeReading()
                        perform(rest + engine.updateFinished(success: result.success), on: connection)
                        feed(connection)
                    }
                }
                return
            case .close:
                connection.closeAfterFlushing()
            case .startTLS:
                // Whatever followed STLS in the clear is discarded, never read as commands.
                input.removeAll()
                if let tlsContext { connection.startTLS(context: tlsContext) }
            }
        }
    }

    /// Sends the open message in chunks, keeping at most ~256 KiB queued: memory stays flat for a 50 MB
    /// message, and the next chunk is read when the socket has drained. A small message goes out as one
    /// send — status line, body and terminator together — since every extra segment costs the client a read.
    private func pump(_ connection: Connection) {
        guard var current = stream else { return }
        isPumping = true
        defer { isPumping = false }
        // The loop's scratch buffer: used only within this call, so no 64 KiB allocation per RETR.
        let chunk = connection.loop.scratch
        let chunkSize = chunk.count
        // No room is reserved here: the byte stuffer writes each chunk's wire form into a new array of its
        // own bound (what `output` holds, copied in front), so reserving first cost an allocation per RETR.
        var output = current.head
        current.head = []
        while true {
            while connection.pendingOutputCount < 256 * 1024 && !connection.isClosed {
                let n = SystemCall.restarting { read(current.fd, chunk.baseAddress, chunkSize) }
                // A read error after "+OK" (EIO; ESTALE on GlusterFS when another host removed the file), or
                // the end of the file before the size it had when opened (Maildir files never shrink: the file
                // system lost bytes, as a GlusterFS replica can after a brick failure): the terminating "."
                // would present a truncated message as whole, and a client might then DELE it. Close without
                // it instead; the session ends without UPDATE (RFC 1939 §6).
                let failure: String? = if n < 0 {
                    SystemError("read", errno: errno).description
                } else if n == 0, let unread = current.unreadBytes, unread > 0 {
                    "the file ended \(unread) bytes before the size it had when opened"
                } else {
                    nil
                }
                if let failure {
                    close(current.fd)
                    stream = nil
                    context.environment.log(.error, "pop3.read_failed", connection, [
                        "user": user?.description ?? "", "error": failure,
                    ])
                    connection.send(output)
                    connection.closeAfterFlushing()
                    return
                }
                var more = n > 0
                if n > 0 {
                    more = current.stuffer.encode(UnsafeBufferPointer(rebasing: chunk[0..<n]), into: &output)
                    if let unread = current.unreadBytes {
                        current.unreadBytes = unread - n
                        // A short read that took exactly what was left: the end, with no read returning 0.
                        if n < chunkSize && unread == n { more = false }
                    }
                }
                if !more {
                    // End of file or the TOP line limit reached.
                    current.stuffer.finish(into: &output)
                    close(current.fd)
                    stream = nil
                    connection.send(output)
                    connection.resumeReading()
                    perform(engine.messageSent(), on: connection)
                    feed(connection)
                    return
                }
                if output.count >= chunkSize {
                    stream = current
                    connection.send(output)
                    output.removeAll(keepingCapacity: true)
                }
            }
            stream = current
            guard !output.isEmpty else { return }
            connection.send(output)
            output.removeAll(keepingCapacity: true)
            // If that send drained at once, no "drained" event will come (we are inside pump): keep going.
            if connection.isClosed || connection.pendingOutputCount >= 256 * 1024 { return }
        }
    }

    // MARK: - Login and maildrop

    /// What a login produced: the locked, scanned maildrop, or why not.
    private enum LoginOutcome: @unchecked Sendable {
        case opened(Maildrop)
        case refused(POP3AuthenticationResult)
    }

    /// A user's maildrop as snapshotted at login.
    private struct Maildrop {
        var user: MailAddress
        var maildir: Maildir
        var lock: MaildirLock
        var messages: [String: MaildirMessage]
        var listing: [POP3MessageInfo]
        var directories: MessageDirectories?
    }

    /// Checks the password, then locks and scans the Maildir (on the storage pool; touches no session state).
    private static func openMaildrop(
        login: String, password: String, peer: SocketAddress, context: ServerContext, connection: Connection
    ) -> LoginOutcome {
        let address: MailAddress
        switch context.authenticator.authenticate(login: login, password: password, client: peer) {
        case .authenticated(let mailbox):
            address = mailbox
        case .throttled:
            context.metrics.pop3LoginFailed()
            context.environment.log(.warning, "pop3.login_throttled", connection, ["client": peer.host])
            return .refused(.failure)
        case .refused:
            // One line per failure with the client address, for fail2ban (contrib/fail2ban).
            context.metrics.pop3LoginFailed()
            context.environment.log(.info, "pop3.login_failed", connection, ["client": peer.host, "user": login])
            return .refused(.failure)
        case .unavailable(let reason):
            context.environment.log(.warning, "pop3.login_unavailable", connection, ["client": peer.host, "user": login, "reason": reason])
            return .refused(.temporaryFailure)
        }
        guard let maildir = context.maildir(for: address) else { return .refused(.temporaryFailure) }
        do {
            try maildir.verifyContainment(inside: context.deliveryAgent.configuration.mailRoot, creating: true)
            let lock = try MaildirLock.acquire(maildir: maildir)
            let scan = try MaildirScanner(maildir: maildir).scan()
            let uidlist = try? DovecotUIDList(maildir: maildir)
            let dovecotUIDs = uidlist?.uidsByBaseName ?? [:]
            var drop = Maildrop(user: address, maildir: maildir, lock: lock, messages: [:], listing: [])
            drop.messages.reserveCapacity(scan.messages.count)
            drop.listing.reserveCapacity(scan.messages.count)
            drop.directories = MessageDirectories(maildir)
            // One read buffer for every message this login has to count, allocated when the first needs it:
            // a new zero-filled 64 KiB array per message cost a 64 KiB memset each (15 % of a first login's
            // instructions for 5,000 messages without W= in their names).
            var countBuffer: UnsafeMutableRawBufferPointer?
            defer { countBuffer?.deallocate() }
            // Sizes of names without W=, counted by earlier logins (keyed by base name, the message's identity
            // across flag changes: the S flag a session sets on everything it retrieved renames the files, and
            // the next session would otherwise count them all again); taken once, not looked up per message.
            let known = context.octetCache.sizes(inMaildir: maildir.path)
            var counted: [String: Int] = [:]
            for message in scan.messages {
                let key = message.baseName
                let size: Int
                if let virtual = message.filename.virtualSize {
                    // W= in the name is the answer (no system call); MaildirMessage.size() would stat a name without S=.
                    size = virtual
                } else if let cached = known[key] ?? counted[key] {
                    size = cached
                } else {
                    guard let octets = countOctets(of: message, directories: drop.directories, buffer: &countBuffer) else { continue }
                    counted[key] = octets
                    size = octets
                }
                // One hash of the key: the first file of a name wins (the same name in new/ and cur/ is listed once).
                if let first = drop.messages.updateValue(message, forKey: key) {
                    drop.messages[key] = first
                    continue
                }
                let uniqueID = dovecotUIDs[key].flatMap { uid in uidlist?.uniqueIDListing(uid: uid) } ?? key
                drop.listing.append(POP3MessageInfo(uniqueID: uniqueID, octets: size, storageKey: key))
            }
            context.octetCache.record(counted, inMaildir: maildir.path)
            return .opened(drop)
        } catch let error as MaildirError {
            if case .inUse = error {
                context.environment.log(.info, "pop3.in_use", connection, ["user": address.description])
                return .refused(.inUse)
            }
            context.environment.log(.error, "pop3.maildrop_failed", connection, ["user": address.description, "error": error.description])
            return .refused(.temporaryFailure)
        } catch {
            context.environment.log(.error, "pop3.maildrop_failed", connection, ["user": address.description, "error": "\(error)"])
            return .refused(.temporaryFailure)
        }
    }

    /// Back on the connection's queue: adopt the maildrop (or delay a failure) and tell the engine.
    private func finishLogin(_ outcome: LoginOutcome, rest: [POP3Action], connection: Connection) {
        switch outcome {
        case .opened(let drop):
            guard !connection.isClosed else {
                drop.lock.release()
                return
            }
            lock = drop.lock
            maildir = drop.maildir
            user = drop.user
            messages = drop.messages
            directories = drop.directories
            context.environment.log(.info, "pop3.login", connection, ["user": drop.user.description, "messages": String(drop.listing.count)])
            connection.resumeReading()
            perform(rest + engine.authenticationFinished(.success(drop.listing)), on: connection)
            feed(connection)
        case .refused(let result):
            let delay = context.authenticator.failureDelayMilliseconds
            guard case .failure = result, delay > 0 else {
                connection.resumeReading()
                perform(rest + engine.authenticationFinished(result), on: connection)
                feed(connection)
                return
            }
            // Delay the answer so guessing is slow; wrong user and wrong password wait the same.
            connection.loop.schedule(afterMilliseconds: delay) { [self] in
                guard !connection.isClosed else { return }
                connection.resumeReading()
                perform(rest + engine.authenticationFinished(.failure), on: connection)
                feed(connection)
            }
        }
    }

    /// The RFC 1939 size of a message whose name has no W=: its bytes counted once, without touching the
    /// access time (as RETR reads it). Nil when it cannot be read (it is then left out of the listing).
    private static func countOctets(
        of message: MaildirMessage, directories: MessageDirectories?, buffer: inout UnsafeMutableRawBufferPointer?
    ) -> Int? {
        guard let fd = try? (directories.map { try $0.open(message, updatingAccessTime: false).descriptor } ?? message.openForReading())
        else { return nil }
        defer { close(fd) }
        var counter = POP3MessageSizeCounter()
        let chunk = buffer ?? UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        buffer = chunk
        while true {
            let n = SystemCall.restarting { read(fd, chunk.baseAddress, chunk.count) }
            if n <= 0 { break }
            counter.add(UnsafeBufferPointer(rebasing: chunk.bindMemory(to: UInt8.self)[0..<n]))
        }
        return counter.octets
    }

    /// The UPDATE state (RFC 1939 §6): remove the messages marked deleted, mark retrieved ones seen, and
    /// make both durable. A message another reader already moved or removed is not an error.
    private static func update(
        deleted: [String], retrieved: [String], messages: [String: MaildirMessage], maildir: Maildir?,
        context: ServerContext, connection: Connection
    ) -> (success: Bool, deletedCount: Int) {
        var success = true
        var deletedCount = 0
        var deletedBytes = 0
        for key in deleted {
            guard let message = messages[key] else { continue }
            do {
                let size = try message.size().byteCount
                try message.delete()
                deletedCount += 1
                deletedBytes += size
            } catch MaildirError.messageVanished {
                continue
            } catch {
                success = false
                context.environment.log(.error, "pop3.delete_failed", connection, ["file": message.name, "error": "\(error)"])
            }
        }
        let seen: MaildirFlags = "S"
        for key in retrieved {
            guard let message = messages[key] else { continue }
            // Already seen in cur/ (read in an earlier session): nothing to rename, and no new name to build.
            if message.directory == .cur && message.flags.contains(MaildirFlags.seen) { continue }
            do {
                _ = try message.addingFlags(seen)
            } catch MaildirError.messageVanished {
                continue
            } catch {
                context.environment.log(.warning, "pop3.flag_failed", connection, ["file": message.name, "error": "\(error)"])
            }
        }
        if let maildir {
            do {
                try maildir.syncCurDirectory()
                try maildir.syncNewDirectory()
            } catch {
                success = false
            }
            // Maildir++ quota: the removals as one negative line (a missing maildirsize is counted afresh later).
            do {
                try maildir.appendQuotaDelta(bytes: -deletedBytes, messages: -deletedCount)
            } catch {
                context.environment.log(.warning, "quota.update_failed", connection, ["maildir": maildir.path, "error": "\(error)"])
            }
        }
        return (success, deletedCount)
    }
}
