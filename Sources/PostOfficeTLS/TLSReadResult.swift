// TLSReadResult: what one TLSSession.readPlaintext call produced.

/// The outcome of one ``TLSSession/readPlaintext(into:)`` call.
public enum TLSReadResult: Hashable, Sendable {
    /// This many decrypted bytes were appended to the buffer; call again, there may be more.
    case bytes(Int)
    /// No complete record is buffered; feed more ciphertext with ``TLSSession/receiveFromNetwork(_:)``.
    case wantMore
    /// The peer sent close_notify ([RFC 8446 §6.1](https://www.rfc-editor.org/rfc/rfc8446#section-6.1));
    /// no more data will come. Answer with ``TLSSession/shutdown()``.
    case closed
}
