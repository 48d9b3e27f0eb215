// MaildirHandleCache: the Maildirs delivered into recently, kept open between deliveries, so that a delivery to
// a known mailbox costs one stat of its new/ path instead of the containment walk (opening tmp/ and new/,
// checking cur/, reading the file system type, then closing them). A handle is used again only while the
// Maildir's path still leads to the very directory it holds open.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// A bounded set of open ``MaildirHandle``s, by Maildir, shared by every delivery of a process.
///
/// **When a cached handle is used.** ``handle(for:)`` stats the Maildir's `new/` path (not following a link at
/// its end) and returns the cached handle only when that is the directory the handle holds open (same device
/// and inode: the open descriptor keeps the inode from being reused). A Maildir moved, replaced, deleted or
/// swapped for a link to somewhere else is therefore walked again by ``Maildir/openHandle(inside:rootDescriptor:)``,
/// which refuses links below the mail root. What the stat cannot see — a link planted at a level above
/// `new/` that leads back to the same directory — changes nothing: delivery still goes into the directory the
/// walk checked. A failed delivery should ``forget(_:)`` its Maildirs, so the next one walks again.
///
/// **Descriptors.** Each handle holds two (`tmp/` and `new/`), so the cache holds at most twice its capacity;
/// a server counts them in its descriptor budget. Eviction is second-chance (``SecondChanceCache``); an evicted
/// handle closes when the last delivery using it lets it go.
public final class MaildirHandleCache: Sendable {
    private let entries: SecondChanceCache<Maildir, MaildirHandle>

    /// - Parameter capacity: most Maildirs kept open (at least one).
    public init(capacity: Int) {
        entries = SecondChanceCache(capacity: capacity)
    }

    /// Most Maildirs kept open.
    public var capacity: Int { entries.capacity }

    /// The cached handle of `maildir` when its `new/` path still leads to the directory the handle holds open;
    /// nil otherwise (and a stale entry is dropped).
    public func handle(for maildir: Maildir) -> MaildirHandle? {
        guard let cached = entries.value(for: maildir) else { return nil }
        var status = stat()
        guard fstatat(AT_FDCWD, maildir.newPath, &status, AT_SYMLINK_NOFOLLOW) == 0,
            UInt64(status.st_dev) == cached.newDirectory.identity.device,
            UInt64(status.st_ino) == cached.newDirectory.identity.inode
        else {
            entries.removeValue(for: maildir)
            return nil
        }
        return cached
    }

    /// Keeps `handle` for later deliveries into its Maildir.
    public func store(_ handle: MaildirHandle) {
        entries.store(handle, for: handle.maildir)
    }

    /// Drops `maildir`'s handle, if cached: the next delivery walks from the mail root again.
    public func forget(_ maildir: Maildir) {
        entries.removeValue(for: maildir)
    }

    /// Maildirs held open now.
    public var count: Int { entries.count }
}
