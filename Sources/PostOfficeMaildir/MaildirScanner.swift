// MaildirScanner: lists the messages of one Maildir (new/ then cur/) with readdir, keeping only regular
// files (no dot files, directories, symbolic links or FIFOs) whose names parse, in delivery-time order.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// Lists a Maildir's messages.
///
/// A scan is a snapshot: Maildir has no lock (maildir(5), https://cr.yp.to/proto/maildir.html), so a
/// message may be renamed or removed by another reader right after. Operations on a scanned message
/// report that as ``MaildirError/messageVanished(path:)``.
public struct MaildirScanner: Sendable {
    public var maildir: Maildir

    public init(maildir: Maildir) {
        self.maildir = maildir
    }

    /// Reads `new/` and `cur/`. A missing `new/` or `cur/` is an error (the Maildir is broken or absent).
    public func scan() throws(SystemError) -> MaildirScan {
        var messages: [MaildirMessage] = []
        var skipped = 0
        for directory in [MaildirMessage.Directory.new, .cur] {
            let path = directory == .new ? maildir.newPath : maildir.curPath
            let listing = try DirectoryReader.entries(of: path)
            skipped += listing.undecodable
            for entry in listing.entries {
                // Only regular files: a symbolic link in cur/ would hand out a file from anywhere (RETR of
                // /etc/hostname), a FIFO would block the reader.
                guard entry.kind == .regular || entry.kind == .unknown, let filename = MaildirFilename(entry.name) else {
                    skipped += 1
                    continue
                }
                // Some filesystems do not fill d_type; lstat (which does not follow links) decides then.
                if entry.kind == .unknown {
                    guard let st = DirectoryReader.status(path + "/" + entry.name), (st.st_mode & S_IFMT) == S_IFREG else {
                        skipped += 1
                        continue
                    }
                }
                messages.append(MaildirMessage(maildir: maildir, directory: directory, filename: filename, name: entry.name))
            }
        }
        return MaildirScan(messages: Self.deliveryOrder(messages), skippedCount: skipped)
    }

    /// Sorts as ``MaildirFilename/<(_:_:)`` does (delivery time, then name bytes; `new/` before `cur/` on a
    /// tie), computing each key once: a large Maildir has tens of thousands of names.
    static func deliveryOrder(_ messages: [MaildirMessage]) -> [MaildirMessage] {
        // The names are compared as bytes only on a time tie, in place (no copy of every name).
        let keys = messages.map { message in (time: message.filename.deliveryTime, isNew: message.directory == .new) }
        let order = keys.indices.sorted { i, j in
            let a = keys[i], b = keys[j]
            if a.time != b.time {
                guard let ta = a.time else { return false }
                guard let tb = b.time else { return true }
                return ta < tb
            }
            let byName = compareBytes(messages[i].name, messages[j].name)
            return byName != 0 ? byName < 0 : a.isNew && !b.isNew
        }
        return order.map { messages[$0] }
    }

    /// Negative, zero or positive as the UTF-8 bytes of `a` sort before, equal to or after those of `b`
    /// (the order of `lexicographicallyPrecedes` on the UTF-8 views), with memcmp on the stored bytes: a
    /// Maildir filled in one second (a migration, a burst) compares names at every step of the sort.
    static func compareBytes(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let shorter = min(x.count, y.count)
                let result = shorter == 0 ? 0 : Int(memcmp(x.baseAddress!, y.baseAddress!, shorter))
                return result != 0 ? result : x.count - y.count
            }
        }
    }
}
