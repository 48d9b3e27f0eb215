// Privileges: after the listeners are bound, a process started as root becomes the configured user, so
// ports 25/110 need root only for bind(2) (the Postfix and Dovecot practice).

#if canImport(Glibc)
import Glibc
#endif

enum Privileges {
    /// Switches to `user` (its primary group, no supplementary groups) when running as root; does nothing
    /// otherwise. Throws when the user is unknown or the switch fails: serving as root by accident is worse
    /// than not serving.
    static func drop(to user: String) throws {
        guard getuid() == 0 || geteuid() == 0 else { return }
        guard let entry = getpwnam(user) else { throw UsageError("run_as_user: no such user '\(user)'") }
        let uid = entry.pointee.pw_uid
        let gid = entry.pointee.pw_gid
        guard setgroups(0, nil) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw UsageError("run_as_user: cannot switch to '\(user)': errno \(errno)")
        }
        // A successful setuid from root can not be undone; check it really happened.
        guard getuid() == uid, geteuid() == uid, setuid(0) != 0 else {
            throw UsageError("run_as_user: still privileged after switching to '\(user)'")
        }
    }
}
