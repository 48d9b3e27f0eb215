// FileSystemTests: `mkdir -p` and existence checks on a fresh temporary folder: nested creation, an
// existing directory, a file in the way, and the mode given to new levels.
import Testing
import PostOfficeCore
#if canImport(Glibc)
import Glibc
#endif

@Suite struct FileSystemTests {
    /// A new empty directory under /tmp; each test removes its own.
    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/postoffice-fs-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: try #require(made))
    }

    @Test(arguments: ["a", "a/b", "a/b/c/d", "a/b/", "a//b"])
    func createsNestedDirectories(relative: String) throws {
        let root = try Self.temporaryDirectory()
        defer { _ = system("rm -rf '\(root)'") }
        let path = root + "/" + relative
        #expect(!FileSystem.fileExists(atPath: path))
        try FileSystem.createDirectory(atPath: path, mode: 0o700)
        #expect(FileSystem.isDirectory(atPath: path))
        // Again: an existing directory is success.
        try FileSystem.createDirectory(atPath: path, mode: 0o700)
        #expect(FileSystem.isDirectory(atPath: path))
        var status = stat()
        #expect(stat(root + "/a", &status) == 0)
        #expect(status.st_mode & 0o777 == 0o700)
    }

    @Test func fileInTheWayIsAnError() throws {
        let root = try Self.temporaryDirectory()
        defer { _ = system("rm -rf '\(root)'") }
        let file = root + "/plain"
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(descriptor >= 0)
        close(descriptor)
        #expect(FileSystem.fileExists(atPath: file))
        #expect(!FileSystem.isDirectory(atPath: file))
        #expect(throws: SystemError.self) { try FileSystem.createDirectory(atPath: file) }
        #expect(throws: SystemError.self) { try FileSystem.createDirectory(atPath: file + "/below") }
    }

    @Test(arguments: ["", "/", "/tmp", "."])
    func existingOrEmptyPathsNeedNothing(path: String) throws {
        try FileSystem.createDirectory(atPath: path)
        #expect(path.isEmpty || FileSystem.isDirectory(atPath: path))
    }
}
