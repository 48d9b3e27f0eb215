// OutgoingMessageSigner: the seam through which mail we send is signed (DKIM, RFC 6376) without the delivery
// engines knowing how. The runtime implements it; an engine asks once the header block is complete, streams
// the rest of the message through the signature, and puts the fields it returns on top of the message.

/// Signs messages we send, for senders whose domain has a key. Implemented by the server runtime.
public protocol OutgoingMessageSigner: Sendable {
    /// A signature in progress for a message whose header lines are `header` (all of them; the empty line
    /// after them may come with the first ``OutgoingSignature/update(_:)``), which it has already taken in;
    /// nil when the message is not signed (no key for its From: domain).
    func beginSignature(header: [UInt8]) -> (any OutgoingSignature)?
}

/// One message being signed: the bytes after the header block go through ``update(_:)``, then ``finish()``.
public protocol OutgoingSignature: AnyObject {
    /// Adds message bytes that follow the header block (any split).
    func update(_ bytes: UnsafeRawBufferPointer)
    /// The header fields to put on top of the message (each ending in CRLF); empty when signing failed, in
    /// which case the message goes unsigned (the failure is logged) rather than being refused.
    func finish() -> [UInt8]
}

extension OutgoingSignature {
    /// Adds message bytes from an array.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }
}
