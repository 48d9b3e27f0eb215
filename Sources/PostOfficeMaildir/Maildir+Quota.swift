// Maildir+Quota: reading, appending to and recalculating the Maildir++ `maildirsize` file in a Maildir root,
// the way Courier and Dovecot's `maildir` quota backend keep it, so each reads what the other wrote.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

extension Maildir {
    /// The `maildirsize` file of this Maildir (meaningful in a user's root Maildir, not in a folder).
    public var maildirSizePath: String { path + "/" + MaildirSize.fileName }

    /// The usage counted against `quota`: read from `maildirsize`, or counted again and written back when the
    /// file is missing, unreadable, garbled, written for other limits, or stale (``MaildirSize/needsRecalculation(for:fileSize:modifiedAt:now:)``).
    ///
    /// - Parameter now: the current time in seconds since 1970 (the injected clock's), for the staleness rule.
    /// - Returns: the usage and whether it was recalculated.
    public func quotaUsage(for quota: MailboxQuota, now: Int64) throws(SystemError) -> (usage: MaildirQuotaUsage, recalculated: Bool) {
        if let (contents, size, modified) = readMaildirSize(),
            !contents.needsRecalculation(for: quota, fileSize: size, modifiedAt: modified, now: now)
        {
            return (contents.usage, false)
        }
        return (try recalculateQuota(for: quota), true)
    }

    /// Reads and parses `maildirsize`; nil when it is missing, unreadable, too large or garbled.
    public func readMaildirSize() -> (contents: MaildirSize, fileSize: Int, modifiedAt: Int64)? {
        let fd = open(maildirSizePath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var bytes = [UInt8](repeating: 0, count: MaildirSize.maximumFileSize + 1)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                SystemCall.restarting { read(fd, buffer.baseAddress! + filled, buffer.count - filled) }
            }
            if n < 0 { return nil }
            if n == 0 { break }
            filled += n
        }
        guard let contents = MaildirSize(parsing: Array(bytes[..<filled])) else { return nil }
        return (contents, max(filled, Int(st.st_size)), Int64(st.st_mtim.tv_sec))
    }

    /// Counts every message of this Maildir and its Maildir++ folders (`new/` and `cur/`; the size from the
    /// name's `S=`, else `stat`, as Dovecot does) and replaces `maildirsize` with the quota header and one
    /// line, through a file in `tmp/` renamed into place (so a reader never sees half a file).
    @discardableResult
    public func recalculateQuota(for quota: MailboxQuota) throws(SystemError) -> MaildirQuotaUsage {
        let usage = try countQuotaUsage()
        let text = Array(MaildirSize.text(quota: quota, usage: usage).utf8)
        let temporary = tmpPath + "/maildirsize.\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
        let fd = try SystemCall.retrying("open", detail: temporary) {
            open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        do {
            try Self.writeAll(text, to: fd, path: temporary)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, maildirSizePath) == 0 else {
            let code = errno
            unlink(temporary)
            throw SystemError("rename", errno: code, detail: maildirSizePath)
        }
        return usage
    }

    /// Sums the messages of this Maildir and its folders without touching `maildirsize`.
    public func countQuotaUsage() throws(SystemError) -> MaildirQuotaUsage {
        var usage = MaildirQuotaUsage.zero
        var maildirs = [self]
        for name in try folderNames() {
            if let folder = folder(named: name) { maildirs.append(folder) }
        }
        for maildir in maildirs {
            for directory in [maildir.newPath, maildir.curPath] {
                let listing: [DirectoryReader.Entry]
                do {
                    listing = try DirectoryReader.entries(of: directory).entries
                } catch {
                    if error.errno == ENOENT { continue }
                    throw error
                }
                for entry in listing where !entry.name.hasPrefix(".") {
                    if let size = MaildirFilename(entry.name)?.size {
                        usage.byteCount += size
                        usage.messageCount += 1
                    } else if let st = DirectoryReader.status(directory + "/" + entry.name), (st.st_mode & S_IFMT) == S_IFREG {
                        usage.byteCount += Int(st.st_size)
                        usage.messageCount += 1
                    }
                }
            }
        }
        return usage
    }

    /// Appends a `<bytes> <count>` line to `maildirsize` with `O_APPEND` (one `write`, so concurrent writers
    /// never interleave within a line). Does nothing when the file does not exist: the next reader counts the
    /// Maildir and writes it, as Courier and Dovecot do. Not fsync'd: the file is a cache that a count rebuilds.
    public func appendQuotaDelta(bytes: Int, messages: Int) throws(SystemError) {
        guard bytes != 0 || messages != 0 else { return }
        let fd = open(maildirSizePath, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            throw SystemError("open", errno: errno, detail: maildirSizePath)
        }
        defer { close(fd) }
        try Self.writeAll(Array(MaildirSize.line(bytes: bytes, messages: messages).utf8), to: fd, path: maildirSizePath)
    }

    /// The marker that a quota warning was delivered and usage has not dropped below its line since.
    public var quotaWarningMarkerPath: String { path + "/postoffice-quota-warning" }

    /// Creates the quota-warning marker with `O_EXCL`; true only for the one caller that created it, so
    /// concurrent deliveries send one warning between them. The marker's existence is the durable "sent".
    public func claimQuotaWarning() throws(SystemError) -> Bool {
        let fd = open(quotaWarningMarkerPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw SystemError("open", errno: errno, detail: quotaWarningMarkerPath)
        }
        close(fd)
        return true
    }

    /// Removes the quota-warning marker (usage is below the warning line again), if there is one.
    public func clearQuotaWarning() {
        unlink(quotaWarningMarkerPath)
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                SystemCall.restarting { write(fd, buffer.baseAddress! + offset, buffer.count - offset) }
            }
            if n < 0 { throw SystemError("write", errno: errno, detail: path) }
            offset += n
        }
    }
}
