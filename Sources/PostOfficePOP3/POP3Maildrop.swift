// POP3Maildrop: the session's view of the maildrop snapshot taken at login, with the deletion and
// retrieval marks that UPDATE will apply. Message numbers never change during a session (RFC 1939 §5).

/// The snapshot plus per-message marks. Numbers are 1-based.
struct POP3Maildrop: Sendable {
    private(set) var messages: [POP3MessageInfo]
    private var deleted: [Bool]
    private var retrieved: [Bool]
    private(set) var visibleCount: Int
    private(set) var visibleOctets: Int

    init(snapshot: [POP3MessageInfo]) {
        messages = snapshot.map { info in
            var repaired = info
            repaired.uniqueID = POP3MessageInfo.sanitizedUniqueID(info.uniqueID)
            // A negative size from a confused runtime must not make STAT lie below zero.
            repaired.octets = max(0, info.octets)
            return repaired
        }
        deleted = Array(repeating: false, count: messages.count)
        retrieved = deleted
        visibleCount = messages.count
        visibleOctets = messages.reduce(0) { $0 &+ $1.octets }
    }

    var count: Int { messages.count }

    /// The message for `number` unless it is out of range or marked deleted.
    func visibleMessage(_ number: Int) -> POP3MessageInfo? {
        guard number >= 1 && number <= messages.count, !deleted[number - 1] else { return nil }
        return messages[number - 1]
    }

    /// Marks `number` deleted; false when it is out of range or already deleted.
    mutating func markDeleted(_ number: Int) -> Bool {
        guard let info = visibleMessage(number) else { return false }
        deleted[number - 1] = true
        visibleCount -= 1
        visibleOctets &-= info.octets
        return true
    }

    mutating func markRetrieved(_ number: Int) {
        guard number >= 1 && number <= messages.count else { return }
        retrieved[number - 1] = true
    }

    /// RSET: clears deletion marks and, like Dovecot, retrieval marks, so the session leaves no trace.
    mutating func reset() {
        deleted = Array(repeating: false, count: messages.count)
        retrieved = deleted
        visibleCount = messages.count
        visibleOctets = messages.reduce(0) { $0 &+ $1.octets }
    }

    /// Visible messages as (number, info), in order.
    var visibleMessages: [(number: Int, info: POP3MessageInfo)] {
        messages.indices.compactMap { deleted[$0] ? nil : ($0 + 1, messages[$0]) }
    }

    var deletedKeys: [String] {
        messages.indices.compactMap { deleted[$0] ? messages[$0].storageKey : nil }
    }

    var retrievedKeys: [String] {
        messages.indices.compactMap { retrieved[$0] && !deleted[$0] ? messages[$0].storageKey : nil }
    }
}
