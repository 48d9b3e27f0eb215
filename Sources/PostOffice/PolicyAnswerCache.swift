// PolicyAnswerCache: the SPF, DMARC and DKIM engines' view of a cached DNS answer (PolicyDNSAnswer), kept
// until the DNS cache entry it came from expires. Every checked message asks three questions whose answers the
// DNS cache holds; turning each into a DNS name of label arrays, looking it up and converting the records cost
// more allocations than the rest of those steps. Bounded, thread-safe (SecondChanceCache).

import PostOfficeCore
import PostOfficeDNS
import PostOfficeSPF

/// Converted answers by question, each valid until its DNS cache entry's expiry.
final class PolicyAnswerCache: @unchecked Sendable {
    private struct Entry {
        var answer: PolicyDNSAnswer
        var expires: MailTime
    }

    private let entries: SecondChanceCache<PolicyDNSQuestion, Entry>

    init(capacity: Int = 1000) {
        entries = SecondChanceCache(capacity: capacity)
    }

    /// The answer for `question` while the DNS cache entry it came from has not expired (`now` on that
    /// cache's clock).
    func answer(for question: PolicyDNSQuestion, now: MailTime) -> PolicyDNSAnswer? {
        guard let entry = entries.value(for: question), now < entry.expires else { return nil }
        return entry.answer
    }

    /// Keeps `answer` (converted from a DNS cache entry) until `expires`, that entry's expiry.
    func store(_ answer: PolicyDNSAnswer, for question: PolicyDNSQuestion, expires: MailTime) {
        entries.store(Entry(answer: answer, expires: expires), for: question)
    }

    /// Entries held now.
    var count: Int { entries.count }
}
