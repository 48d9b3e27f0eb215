// HeaderLoopDetector: a streaming scan of the header section for mail loops — a Delivered-To: naming one of
// our recipients, or too many Received: lines. Memory stays bounded however the bytes are chunked.

import PostOfficeCore

/// Finds mail loops in a message's header section as its bytes stream by
/// ([RFC 5321 §6.3](https://www.rfc-editor.org/rfc/rfc5321#section-6.3)).
///
/// Two rules, both giving 5.4.6: a `Delivered-To:` field whose address equals (in canonical form, ``MailAddress``) one of
/// ``recipients``, or more than ``maximumReceivedCount`` `Received:` fields. Folded fields
/// ([RFC 5322 §2.2.3](https://www.rfc-editor.org/rfc/rfc5322#section-2.2.3)) are unfolded. Only the header
/// section counts: scanning stops at the first empty line. Lines may end in LF or CRLF.
///
/// Memory is bounded: a field name is kept up to 32 bytes and a `Delivered-To:` value up to 998 bytes; after
/// ``maximumInspectedBytes`` header bytes the scan stops (what follows is not inspected).
public struct HeaderLoopDetector: Sendable {
    /// What was found.
    public enum Finding: Hashable, Sendable {
        /// A `Delivered-To:` names this recipient (lower case).
        case deliveredTo(String)
        /// More `Received:` fields than allowed; the count seen.
        case tooManyReceived(Int)
    }

    public let recipients: Set<String>
    public let maximumReceivedCount: Int
    public let maximumInspectedBytes: Int

    /// The first loop found, if any.
    public private(set) var finding: Finding?
    /// `Received:` fields seen so far.
    public private(set) var receivedCount = 0
    /// True once the empty line ending the header section was seen (or the byte budget ran out).
    public private(set) var isFinished = false

    private enum FieldKind: Sendable { case deliveredTo, received, other }
    private enum State: Sendable { case lineStart, name, value, finished }

    private var state = State.lineStart
    private var name: [UInt8] = []
    private var nameOverflow = false
    private var kind = FieldKind.other
    private var value: [UInt8] = []
    private var inspected = 0

    private static let maximumNameLength = 32
    private static let maximumValueLength = 998

    /// - Parameter recipients: addresses whose `Delivered-To:` means a loop; compared in canonical form
    ///   (``MailAddress/canonicalAddress(_:)``, byte for byte).
    public init(recipients: some Sequence<String>, maximumReceivedCount: Int = 25, maximumInspectedBytes: Int = 256 * 1024) {
        self.recipients = Set(recipients.map { MailAddress.canonicalAddress($0) })
        self.maximumReceivedCount = maximumReceivedCount
        self.maximumInspectedBytes = maximumInspectedBytes
    }

    /// Scans the next bytes of the message.
    public mutating func inspect(_ bytes: UnsafeRawBufferPointer) {
        guard state != .finished else { return }
        for byte in bytes {
            inspected += 1
            if inspected > maximumInspectedBytes {
                endField()
                stop()
                return
            }
            switch state {
            case .lineStart:
                if byte == 0x0A {
                    // The empty line: the header section is over.
                    endField()
                    stop()
                    return
                } else if byte == 0x0D {
                    // Part of a CRLF empty line, or a stray CR at line start; either way not a name byte.
                    continue
                } else if byte == 0x20 || byte == 0x09 {
                    // A folded continuation of the current field.
                    if kind == .deliveredTo { appendValue(0x20) }
                    state = .value
                } else {
                    endField()
                    name.removeAll(keepingCapacity: true)
                    nameOverflow = false
                    name.append(byte)
                    state = .name
                }
            case .name:
                if byte == UInt8(ascii: ":") {
                    beginField()
                    state = .value
                } else if byte == 0x0A {
                    // A line without a colon: not a field; keep scanning the next line.
                    kind = .other
                    state = .lineStart
                } else if name.count < Self.maximumNameLength {
                    name.append(byte)
                } else {
                    nameOverflow = true
                }
            case .value:
                if byte == 0x0A {
                    state = .lineStart
                } else if kind == .deliveredTo {
                    appendValue(byte)
                }
            case .finished:
                return
            }
        }
    }

    /// Scans the next bytes of the message.
    public mutating func inspect(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { inspect($0) }
    }

    /// Call at the end of the message (a message may end inside its header section).
    public mutating func finish() {
        guard state != .finished else { return }
        endField()
        stop()
    }

    private mutating func stop() {
        state = .finished
        isFinished = true
        kind = .other
    }

    private mutating func appendValue(_ byte: UInt8) {
        if value.count < Self.maximumValueLength { value.append(byte) }
    }

    private mutating func beginField() {
        kind = .other
        value.removeAll(keepingCapacity: true)
        guard !nameOverflow else { return }
        // Field names are case-insensitive; whitespace before the colon is obsolete syntax but seen.
        var lowered = name.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }
        while let last = lowered.last, last == 0x20 || last == 0x09 { lowered.removeLast() }
        if lowered == Array("received".utf8) {
            receivedCount += 1
            if receivedCount > maximumReceivedCount && finding == nil {
                finding = .tooManyReceived(receivedCount)
            }
        } else if lowered == Array("delivered-to".utf8) {
            kind = .deliveredTo
        }
    }

    private mutating func endField() {
        defer {
            kind = .other
            value.removeAll(keepingCapacity: true)
        }
        guard kind == .deliveredTo, finding == nil else { return }
        let address = Self.normalizedAddress(value)
        if MailAddress.contains(address, in: recipients) { finding = .deliveredTo(address) }
    }

    /// Drops whitespace and CR (folding leaves some inside), removes one pair of angle brackets, and puts the
    /// address in canonical form (ASCII letters lowercased, nothing else folded).
    static func normalizedAddress(_ raw: [UInt8]) -> String {
        var bytes = raw.filter { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }[...]
        if bytes.first == UInt8(ascii: "<"), bytes.last == UInt8(ascii: ">"), bytes.count >= 2 {
            bytes = bytes.dropFirst().dropLast()
        }
        return MailAddress.canonicalAddress(String(decoding: bytes, as: UTF8.self))
    }
}
