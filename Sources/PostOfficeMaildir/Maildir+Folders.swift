// Maildir+Folders: Maildir++ subfolders, the `.Name` sibling directories of new/cur/tmp, each a Maildir
// marked by an empty `maildirfolder` file (Courier's Maildir++ convention, which Dovecot follows).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

extension Maildir {
    /// The Maildir++ folder names below this Maildir (`.Archive` → `"Archive"`, `.Lists.swift` →
    /// `"Lists.swift"`), sorted by their bytes. Only directories that are Maildirs (have tmp/, new/
    /// and cur/) and have safe names (``isSafeFolderName(_:)``) are listed.
    public func folderNames() throws(SystemError) -> [String] {
        let listing = try DirectoryReader.entries(of: path)
        var names: [String] = []
        for entry in listing.entries where entry.name.hasPrefix(".") {
            guard entry.kind == .directory || entry.kind == .unknown else { continue }
            // A symbolic link is no folder of ours, even when d_type was not filled in.
            if entry.kind == .unknown {
                guard let st = DirectoryReader.status(path + "/" + entry.name), (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            }
            let name = String(entry.name.dropFirst())
            guard Self.isSafeFolderName(name), let folder = folder(named: name), folder.exists else { continue }
            names.append(name)
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Creates the Maildir++ folder `name` (tmp/, new/, cur/ and the `maildirfolder` marker), or
    /// returns the existing one. Nil for unsafe names (see ``folder(named:)``).
    public func createFolder(named name: String) throws(SystemError) -> Maildir? {
        guard let folder = folder(named: name) else { return nil }
        try folder.create()
        let marker = folder.path + "/maildirfolder"
        let fd = try SystemCall.retrying("open", detail: marker) {
            open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        }
        close(fd)
        return folder
    }
}
