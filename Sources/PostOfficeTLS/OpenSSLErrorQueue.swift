// OpenSSLErrorQueue: reads and clears OpenSSL's per-thread error queue.
// Every OpenSSL call site clears before and drains after, keeping errors attributable to one session.

internal import COpenSSL

/// The calling thread's OpenSSL error queue.
enum OpenSSLErrorQueue {
    /// Empties the queue, discarding anything a previous caller left on this thread.
    static func clear() {
        ERR_clear_error()
    }

    /// Removes every queued error and returns their texts, oldest first.
    static func drain() -> [String] {
        var messages: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            let message = buffer.withUnsafeMutableBufferPointer { pointer -> String in
                guard let base = pointer.baseAddress else { return "" }
                ERR_error_string_n(code, base, pointer.count)
                return String(cString: base)
            }
            messages.append(message)
        }
        return messages
    }

    /// True when nothing is queued on this thread.
    static var isEmpty: Bool {
        ERR_peek_error() == 0
    }

    /// A ``TLSError`` carrying (and clearing) everything queued.
    static func error(_ kind: TLSError.Kind, operation: String) -> TLSError {
        TLSError(kind, operation: operation, messages: drain())
    }
}
