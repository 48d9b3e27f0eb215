// Maildir+Containment: walks from a trusted root down to a Maildir and its tmp/, new/ and cur/ with
// openat(O_NOFOLLOW | O_DIRECTORY), creating missing levels with mkdirat in the directory just opened,
// so no symbolic link below the root is followed and nothing is ever created outside the root; openHandle(inside:)
// keeps tmp/ and new/ open as a MaildirHandle, so delivery never resolves those paths again.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLinuxEvents
import PostOfficeCore

extension Maildir {
    /// Checks that this Maildir lies below `root` through real directories only, `tmp/`, `new/` and `cur/`
    /// included, and with `creating` makes the missing levels (mode 0700, each new entry's parent fsync'd).
    ///
    /// `root` itself is trusted (it may be a symbolic link the administrator made); every level below it is
    /// opened relative to the one above with `O_NOFOLLOW | O_DIRECTORY`, so a symbolic link, a file or a
    /// path that leaves the root (`..`, `.`) is refused with `ELOOP`, `ENOTDIR` or `EXDEV`, and a level is
    /// created only inside a directory already proven to be inside. Without `creating`, a missing level ends
    /// the check successfully: nothing below it exists to be followed.
    public func verifyContainment(inside root: String, creating: Bool) throws(SystemError) {
        if let (tmp, new) = try walk(inside: root, creating: creating) {
            close(tmp)
            close(new)
        }
    }

    /// Walks from `root` like ``verifyContainment(inside:creating:)`` with `creating` true, and returns the
    /// directories it proved — `tmp/` and `new/` — still open, so the delivery that follows works from
    /// those descriptors and never resolves the path again: a symbolic link swapped in after the walk
    /// cannot redirect it.
    ///
    /// `rootDescriptor`, when given, is `root` already opened (`O_DIRECTORY`) by the caller, who keeps it:
    /// a delivery to several Maildirs under one root opens the root once, not once per Maildir.
    public func openHandle(inside root: String, rootDescriptor: Int32? = nil) throws(SystemError) -> MaildirHandle {
        guard let (tmp, new) = try walk(inside: root, rootDescriptor: rootDescriptor, creating: true) else {
            throw SystemError("openat", errno: ENOENT, detail: path)
        }
        return try MaildirHandle(maildir: self, tmpDescriptor: tmp, newDescriptor: new)
    }

    /// The walk itself: the open descriptors of `tmp/` and `new/` (the caller closes them), or nil when
    /// a level is missing and `creating` is false.
    private func walk(inside root: String, rootDescriptor: Int32? = nil, creating: Bool) throws(SystemError) -> (tmp: Int32, new: Int32)? {
        guard let components = Self.components(of: path, below: root) else {
            throw SystemError("openat", errno: EXDEV, detail: "\(path) is not below the mail root \(root)")
        }
        // The common case, an existing Maildir, in three calls; anything else takes the walk, which creates
        // what is missing and names what is wrong.
        if let opened = Self.openBeneath(root, descriptor: rootDescriptor, relative: components.joined(separator: "/")) {
            return opened
        }
        var descriptor = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor < 0 && errno == ENOENT {
            guard creating else { return nil }
            try Self.makeDirectories(root)
            descriptor = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        guard descriptor >= 0 else { throw SystemError("open", errno: errno, detail: root) }
        defer { close(descriptor) }
        var current = root
        for component in components {
            current += "/" + component
            guard let next = try Self.openContained(component, in: descriptor, path: current, creating: creating) else {
                return nil
            }
            close(descriptor)
            descriptor = next
        }
        // All three are checked even when one is missing, so a link at any of them is still refused.
        var opened: [Int32?] = []
        for sub in ["tmp", "new", "cur"] {
            do {
                opened.append(try Self.openContained(sub, in: descriptor, path: current + "/" + sub, creating: creating))
            } catch {
                opened.forEach { if let fd = $0 { close(fd) } }
                throw error
            }
        }
        if let cur = opened[2] { close(cur) }
        guard let tmp = opened[0], let new = opened[1], opened[2] != nil else {
            if let tmp = opened[0] { close(tmp) }
            if let new = opened[1] { close(new) }
            return nil
        }
        return (tmp, new)
    }

    /// `tmp/` and `new/` opened with one `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` each from `root`
    /// (the kernel refuses a link or an escape anywhere on the path, what the walk proves level by level), and
    /// `cur/` checked to be a directory. Nil when any of that fails (missing, a link, an older kernel): the walk
    /// decides then.
    private static func openBeneath(_ root: String, descriptor: Int32?, relative: String) -> (tmp: Int32, new: Int32)? {
        let base = descriptor ?? open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard base >= 0 else { return nil }
        defer { if descriptor == nil { close(base) } }
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
        let tmp = clinuxevents_open_beneath(base, relative + "/tmp", flags)
        guard tmp >= 0 else { return nil }
        let new = clinuxevents_open_beneath(base, relative + "/new", flags)
        guard new >= 0 else {
            close(tmp)
            return nil
        }
        // cur/ is never written by delivery; it only has to be a real directory (the path above it was just
        // proved by the two opens).
        var status = stat()
        guard fstatat(base, relative + "/cur", &status, AT_SYMLINK_NOFOLLOW) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            close(tmp)
            close(new)
            return nil
        }
        return (tmp, new)
    }

    /// The components of `path` after `root`, or nil when `path` is not strictly below `root` or has an
    /// empty, `.` or `..` component after it (compared as bytes, as the kernel does).
    static func components(of path: String, below root: String) -> [String]? {
        let prefix: String
        if let last = root.utf8.last, last != UInt8(ascii: "/") {
            // The usual root, without a trailing slash (counting Characters below cost more than the rest).
            prefix = root + "/"
        } else {
            var base = root
            while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
            prefix = base == "/" ? "/" : base + "/"
        }
        guard !root.isEmpty, path.utf8.starts(with: prefix.utf8) else { return nil }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        let parts = rest.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard !parts.isEmpty else { return nil }
        var out: [String] = []
        for part in parts {
            let bytes = Array(part)
            guard !bytes.isEmpty, bytes != [0x2E], bytes != [0x2E, 0x2E] else { return nil }
            out.append(String(decoding: bytes, as: UTF8.self))
        }
        return out
    }

    /// Opens `name` inside `parent` without following a symbolic link; creates it first when asked.
    /// Returns nil when it does not exist and `creating` is false.
    private static func openContained(
        _ name: String, in parent: Int32, path: String, creating: Bool
    ) throws(SystemError) -> Int32? {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var fd = openat(parent, name, flags)
        if fd < 0 && errno == ENOENT {
            guard creating else { return nil }
            if mkdirat(parent, name, 0o700) == 0 {
                // The new entry must survive a crash like the mailbox it belongs to.
                _ = fsync(parent)
            } else if errno != EEXIST {
                throw SystemError("mkdir", errno: errno, detail: path)
            }
            // Opened again with O_NOFOLLOW: a link planted between mkdirat and here is still refused.
            fd = openat(parent, name, flags)
        }
        guard fd >= 0 else {
            let code = errno
            // A link fails with ELOOP or (O_DIRECTORY checked first) ENOTDIR; name it for the log either way.
            var st = stat()
            if code == ELOOP || code == ENOTDIR, fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0,
                (st.st_mode & S_IFMT) == S_IFLNK
            {
                throw SystemError("openat", errno: ELOOP, detail: "\(path) is a symbolic link")
            }
            throw SystemError("openat", errno: code, detail: path)
        }
        return fd
    }
}

