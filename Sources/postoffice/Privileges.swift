// Privileges: after the listeners are bound, a process started as root becomes the configured user, so
// ports 25/110 need root only for bind(2) (the Postfix and Dovecot practice). Before that, the data folder is
// checked (or, when the server just made it, given) to that user, so the first delivery does not fail.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

enum Privileges {
    /// The user's uid and primary gid, or a problem naming what to do.
    static func account(_ user: String) throws -> (uid: uid_t, gid: gid_t) {
        guard let entry = getpwnam(user) else {
            throw ConfigurationProblem("run_as_user: no such user '\(user)': create it (useradd --system --no-create-home \(user)) or leave run_as_user empty")
        }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// When running as root with `run_as_user`: gives `created` (what this start made) to that user, then
    /// checks the user can use everything the server touches after dropping root: the data folder and mail
    /// root (and the Maildirs two levels below) writable, the users, aliases and TLS files readable, the log
    /// file writable. Throws one line naming the path and the `chown` to run.
    static func prepare(_ configuration: PostOfficeConfiguration, created: [String]) throws {
        guard let user = configuration.runAsUser, geteuid() == 0 else { return }
        let (uid, gid) = try account(user)
        for path in created where chown(path, uid, gid) != 0 {
            throw ConfigurationProblem("run_as_user: cannot give \(path) to \(user): \(String(cString: strerror(errno)))")
        }
        var needs: [(path: String, access: Access)] = parents(of: configuration.dataDirectory).map { ($0, .enter) }
        needs += [(configuration.dataDirectory, .write), (configuration.mailRoot, .write)]
        needs += [(configuration.usersFile, .read), (configuration.aliasesFile, .read)]
        if let tls = configuration.tls { needs += [(tls.certificateChainPath, .read), (tls.privateKeyPath, .read)] }
        if let log = configuration.logFile { needs.append((log, .write)) }
        for domain in entries(in: configuration.mailRoot) {
            needs.append((domain, .write))
            for mailbox in entries(in: domain) {
                needs.append((mailbox, .write))
                for sub in ["new", "cur", "tmp"] { needs.append((mailbox + "/" + sub, .write)) }
            }
        }
        for (path, access) in needs {
            var status = stat()
            guard stat(path, &status) == 0 else { continue }
            let isDirectory = (status.st_mode & S_IFMT) == S_IFDIR
            let wanted: mode_t = access == .enter ? 0o1 : (access == .write ? 0o2 : 0) | 0o4 | (isDirectory ? 0o1 : 0)
            let shift: mode_t = status.st_uid == uid ? 6 : status.st_gid == gid ? 3 : 0
            guard (status.st_mode >> shift) & wanted != wanted else { continue }
            let owner = getpwuid(status.st_uid).map { String(cString: $0.pointee.pw_name) } ?? String(status.st_uid)
            let mode = String(status.st_mode & 0o7777, radix: 8)
            if access == .enter {
                throw ConfigurationProblem(
                    "run_as_user = \(user) cannot reach \(configuration.dataDirectory): \(path) (owner \(owner), mode \(mode)) "
                        + "is closed to it; move the data folder (--data) somewhere \(user) can enter")
            }
            throw ConfigurationProblem(
                "run_as_user = \(user) cannot \(access) \(path) (owner \(owner), mode \(mode)): "
                    + "run `chown -R \(user): \(configuration.dataDirectory)` and start again")
        }
    }

    enum Access: String, CustomStringConvertible {
        case enter, read, write
        var description: String { rawValue }
    }

    /// The folders above `path` (absolute; a relative path is taken from the working directory).
    private static func parents(of path: String) -> [String] {
        var absolute = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard getcwd(&buffer, buffer.count) != nil else { return [] }
            absolute = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
        }
        var out: [String] = []
        var current = ""
        for part in absolute.split(separator: "/").dropLast() {
            current += "/" + part
            out.append(current)
        }
        return out
    }

    /// Paths of the subfolders of `directory` (none when it cannot be read).
    private static func entries(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var out: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != "..", entry.pointee.d_type == DT_DIR else { continue }
            out.append(directory + "/" + name)
        }
        return out
    }

    /// Switches to `user` (its primary group, no supplementary groups) when running as root; does nothing
    /// otherwise. Throws when the user is unknown or the switch fails: serving as root by accident is worse
    /// than not serving.
    static func drop(to user: String) throws {
        guard getuid() == 0 || geteuid() == 0 else { return }
        let (uid, gid) = try account(user)
        guard setgroups(0, nil) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw UsageError("run_as_user: cannot switch to '\(user)': errno \(errno)")
        }
        // A successful setuid from root can not be undone; check it really happened.
        guard getuid() == uid, geteuid() == uid, setuid(0) != 0 else {
            throw UsageError("run_as_user: still privileged after switching to '\(user)'")
        }
    }
}
