// SpoolFile: a temporary file holding one message for an embedder's delivery hook, streamed as it arrives
// so memory stays flat. The hook owns durability; the file is removed after the hook returns.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore
import PostOfficeDelivery

final class SpoolFile {
    let path: String
    private var fd: Int32

    init(directory: String, name: String) throws(DeliveryError) {
        path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DeliveryError(storage: SystemError("open", errno: errno, detail: path))
        }
        self.fd = fd
    }

    deinit { discard() }

    func append(_ bytes: [UInt8]) throws(DeliveryError) {
        var offset = 0
        while offset < bytes.count {
            let n = SystemCall.restarting { bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) } }
            if n < 0 {
                throw DeliveryError(storage: SystemError("write", errno: errno, detail: path))
            }
            offset += n
        }
    }

    /// Closes the file (checked) and returns its path.
    func finish() throws(DeliveryError) -> String {
        let descriptor = fd
        fd = -1
        if close(descriptor) != 0 {
            throw DeliveryError(storage: SystemError("close", errno: errno, detail: path))
        }
        return path
    }

    /// Removes the file.
    func discard() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        unlink(path)
    }
}
