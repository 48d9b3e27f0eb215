// SubmissionHeaderSink: RFC 6409 §8.2–8.3 for the submission service — a submitted message without a
// Date: or Message-ID: gets one, added in front of its header block. The header block is held (up to
// 64 KiB, then passed on unchanged) until its end is seen; the body streams through untouched.

import PostOfficeCore
import PostOfficeDelivery

/// Adds missing `Date:` and `Message-ID:` to a submitted message, then feeds another sink.
final class SubmissionHeaderSink: MessageSink, @unchecked Sendable {
    private let inner: any MessageSink
    private let date: String
    private let messageID: String
    private var held: [UInt8] = []
    private var isPassingThrough = false
    /// A header block larger than this is passed on as it is (no headers are added to it).
    static let maximumHeldBytes = 64 * 1024

    init(wrapping inner: any MessageSink, date: String, messageID: String) {
        self.inner = inner
        self.date = date
        self.messageID = messageID
    }

    func append(_ bytes: [UInt8]) {
        guard !isPassingThrough else {
            inner.append(bytes)
            return
        }
        held += bytes
        if let end = Self.endOfHeaders(held) {
            release(headerEnd: end)
        } else if held.count > Self.maximumHeldBytes {
            isPassingThrough = true
            inner.append(held)
            held = []
        }
    }

    func commit() -> DeliveryOutcome {
        if !isPassingThrough { release(headerEnd: held.count) }  // a message that is all headers
        return inner.commit()
    }

    func abort() {
        held = []
        inner.abort()
    }

    /// Sends the missing fields, then what was held.
    private func release(headerEnd: Int) {
        isPassingThrough = true
        let names = Self.fieldNames(held[..<headerEnd])
        var added = ""
        if !names.contains("date") { added += "Date: \(date)\r\n" }
        if !names.contains("message-id") { added += "Message-ID: \(messageID)\r\n" }
        if !added.isEmpty { inner.append(Array(added.utf8)) }
        inner.append(held)
        held = []
    }

    /// The offset of the empty line that ends the header block, if it has been read.
    private static func endOfHeaders(_ bytes: [UInt8]) -> Int? {
        if bytes.starts(with: [13, 10]) { return 0 }
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 2
        }
        return nil
    }

    /// The lower-cased names of the header fields (continuation lines skipped).
    private static func fieldNames(_ header: ArraySlice<UInt8>) -> Set<String> {
        var names: Set<String> = []
        for line in header.split(separator: 10, omittingEmptySubsequences: true) {
            guard let first = line.first, first != 32, first != 9, let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            names.insert(String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased())
        }
        return names
    }
}
