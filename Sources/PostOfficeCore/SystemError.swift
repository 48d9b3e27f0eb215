// SystemError: a failed system call, with its name and errno; and the one helper that retries EINTR.
// Storage and the server runtime call Glibc only through `SystemCall.retrying` or report with this type.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A system call that failed.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The call, such as `fsync` or `rename`.
    public var call: String
    /// The `errno` value.
    public var errno: Int32
    /// What the call was working on (a path, usually), for the log.
    public var detail: String

    public init(_ call: String, errno: Int32, detail: String = "") {
        self.call = call
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let message = String(cString: strerror(errno))
        return detail.isEmpty ? "\(call): \(message)" : "\(call) \(detail): \(message)"
    }

    /// True for errors that a later attempt may not meet: out of space or quota (ENOSPC, EDQUOT), too
    /// many open files, I/O errors. Delivery maps them to 4.x.x.
    public var isResourceShortage: Bool {
        [ENOSPC, EDQUOT, EMFILE, ENFILE, ENOMEM].contains(errno)
    }
}

/// Helpers for calling into libc.
public enum SystemCall {
    /// Runs `body` until it does not fail with EINTR and returns its result; on any other failure errno is
    /// left as `body` set it, for callers that handle EAGAIN or a short read themselves.
    @inlinable
    public static func restarting<T: FixedWidthInteger>(_ body: () -> T) -> T {
        while true {
            let result = body()
            if result != -1 || errno != EINTR { return result }
        }
    }

    /// Runs `body` until it does not fail with EINTR. `body` returns -1 and sets errno on failure, as libc does.
    @inlinable
    public static func retrying<T: FixedWidthInteger>(
        _ name: String, detail: @autoclosure () -> String = "", _ body: () -> T
    ) throws(SystemError) -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw SystemError(name, errno: code, detail: detail())
        }
    }
}
