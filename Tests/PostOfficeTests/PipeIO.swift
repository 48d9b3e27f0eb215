// PipeIO: reads and writes a child process's pipes with plain system calls. Foundation's FileHandle
// `write(_:)` and `readDataToEndOfFile()` trap on EPIPE and EINTR (a child that exits early, or a signal
// such as SIGCHLD arriving mid-read), which once killed the whole test process on a busy machine.

import Foundation

enum PipeIO {
    /// Writes all of `data`; a child that stopped reading (EPIPE) just gets less.
    static func write(_ data: Data, to handle: FileHandle) {
        let fd = handle.fileDescriptor
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }

    /// Reads until end of file, retrying interrupted reads.
    static func readToEnd(_ handle: FileHandle) -> Data {
        let fd = handle.fileDescriptor
        var result = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return result
            }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    /// One read of what is available (blocking until something is); empty at end of file.
    static func readSome(_ handle: FileHandle) -> Data {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            return n > 0 ? Data(chunk[0..<n]) : Data()
        }
    }

    /// A whole file, read with open/read. FileManager.contents(atPath:) called on the server's storage
    /// threads (plain pthreads) showed up in LeakSanitizer as 4 KiB leaked inside FoundationEssentials.
    static func readFile(atPath path: String) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }
}
