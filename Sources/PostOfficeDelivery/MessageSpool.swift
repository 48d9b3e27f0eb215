// MessageSpool: holds a message while its DKIM signature is computed, so the signature can go on top: in
// memory up to a threshold, then in an unlinked temporary file (no leftovers after a crash), and replayed in
// 64 KiB chunks. Memory stays bounded however large the message is.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore

/// A write-then-replay buffer for one message.
public final class MessageSpool {
    private let directory: String
    private let memoryLimit: Int
    private var memory: [UInt8] = []
    private var descriptor: Int32 = -1
    /// The first failure; reported by ``replay(_:)``.
    private var failure: DeliveryError?
    /// Bytes appended so far.
    public private(set) var count = 0

    /// - Parameters:
    ///   - directory: where a message larger than `memoryLimit` is spilled (an unlinked file).
    ///   - memoryLimit: bytes kept in memory before spilling.
    public init(directory: String, memoryLimit: Int = 256 * 1024) {
        self.directory = directory
        self.memoryLimit = memoryLimit
    }

    deinit {
        if descriptor >= 0 { _ = close(descriptor) }
    }

    /// Appends bytes; a write failure is remembered and thrown by ``replay(_:)``.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, bytes.count > 0 else { return }
        count += bytes.count
        if descriptor < 0 {
            if memory.count + bytes.count <= memoryLimit {
                memory.append(contentsOf: bytes)
                return
            }
            do throws(DeliveryError) {
                try spill()
            } catch {
                failure = error
                return
            }
        }
        do throws(DeliveryError) {
            try write(bytes)
        } catch {
            failure = error
        }
    }

    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Hands everything appended, in order and in chunks of at most 64 KiB, to `body`.
    public func replay(_ body: ([UInt8]) throws(DeliveryError) -> Void) throws(DeliveryError) {
        if let failure { throw failure }
        guard descriptor >= 0 else {
            var offset = 0
            while offset < memory.count {
                let end = min(offset + 65536, memory.count)
                try body(Array(memory[offset..<end]))
                offset = end
            }
            return
        }
        guard lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw DeliveryError(storage: SystemError("lseek", errno: errno, detail: directory))
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = SystemCall.restarting { buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) } }
            if n < 0 { throw DeliveryError(storage: SystemError("read", errno: errno, detail: directory)) }
            if n == 0 { break }
            try body(Array(buffer[..<n]))
        }
    }

    /// Moves what is in memory to a new unlinked file in `directory`.
    private func spill() throws(DeliveryError) {
        // A named file, unlinked at once: nothing is left behind, even after a crash.
        func create() -> Int32 {
            var template = Array((directory + "/spool.XXXXXX").utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd >= 0 { template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
            return fd
        }
        var fd = create()
        if fd < 0 && errno == ENOENT && mkdir(directory, 0o700) == 0 { fd = create() }
        guard fd >= 0 else { throw DeliveryError(storage: SystemError("open", errno: errno, detail: directory)) }
        descriptor = fd
        let held = memory
        memory = []
        let result: Result<Void, DeliveryError> = held.withUnsafeBytes { raw in
            Result { () throws(DeliveryError) in try write(raw) }
        }
        try result.get()
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws(DeliveryError) {
        var offset = 0
        while offset < bytes.count {
            let n = SystemCall.restarting { Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset) }
            if n < 0 { throw DeliveryError(storage: SystemError("write", errno: errno, detail: directory)) }
            offset += n
        }
    }
}
