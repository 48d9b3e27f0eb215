// BodyCopier: copies a byte range of one file onto the end of another inside the kernel (copy_file_range),
// falling back to pread/write where the file system or kernel cannot. Used to give each recipient its copy.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// Copies file ranges for multi-recipient delivery: the body is written once and then duplicated.
public enum BodyCopier {
    private typealias CopyFileRange = @convention(c) (
        Int32, UnsafeMutablePointer<off_t>?, Int32, UnsafeMutablePointer<off_t>?, Int, UInt32
    ) -> Int

    /// glibc declares `copy_file_range` only under `_GNU_SOURCE`, which the Glibc module does not set, so the
    /// symbol is looked up once at run time; nil (old glibc) means read/write is used.
    private static let copyFileRange: CopyFileRange? = {
        guard let symbol = dlsym(nil, "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: CopyFileRange.self)
    }()

    /// How the bytes travel.
    public enum Method: Sendable, Hashable {
        /// `copy_file_range(2)`: no trip through user space; reflinks on file systems that support it.
        /// Falls back to ``readWrite`` when the kernel refuses (EXDEV, ENOSYS, EINVAL, EOPNOTSUPP).
        case kernel
        /// `pread` + `write` through a 64 KiB buffer.
        case readWrite
    }

    /// Copies `count` bytes starting at `offset` of `source` to the current position of `destination`.
    public static func copy(
        from source: Int32, offset: Int, count: Int, to destination: Int32, method: Method = .kernel
    ) throws(SystemError) {
        var copied = 0
        if method == .kernel, let copyFileRange = Self.copyFileRange {
            var inputOffset = off_t(offset)
            while copied < count {
                let n = SystemCall.restarting { copyFileRange(source, &inputOffset, destination, nil, count - copied, 0) }
                if n > 0 {
                    copied += n
                    continue
                }
                if n == 0 { throw SystemError("copy_file_range", errno: EIO, detail: "source ended early") }
                let code = errno
                if [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP, EBADF].contains(code) { break }
                throw SystemError("copy_file_range", errno: code)
            }
            if copied == count { return }
        }
        try readWriteCopy(from: source, offset: offset + copied, count: count - copied, to: destination)
    }

    private static func readWriteCopy(from source: Int32, offset: Int, count: Int, to destination: Int32) throws(SystemError) {
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var done = 0
        while done < count {
            let want = min(bufferSize, count - done)
            let got = try SystemCall.retrying("pread") { pread(source, buffer, want, off_t(offset + done)) }
            if got == 0 { throw SystemError("pread", errno: EIO, detail: "source ended early") }
            var written = 0
            while written < got {
                written += try SystemCall.retrying("write") { write(destination, buffer + written, got - written) }
            }
            done += got
        }
    }
}
