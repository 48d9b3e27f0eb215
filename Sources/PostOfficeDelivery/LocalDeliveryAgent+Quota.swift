// LocalDeliveryAgent+Quota: Maildir++ quota for local delivery — whose limits apply, whether a message of a
// given size still fits a user's mailbox, the refusal that names what to do, and the warning message
// delivered when usage reaches `quota_warning` percent.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostOfficeCore
import PostOfficeMaildir

extension LocalDeliveryAgent {
    /// The quota of a user: the directory's entry for that user, else the configured default.
    public func quota(for user: MailAddress) -> MailboxQuota {
        directory.quota(forUser: user.canonical) ?? configuration.quota
    }

    /// True when some user has a quota, so recipients must be checked against it.
    public var enforcesQuota: Bool {
        !configuration.quota.isUnlimited || directory.quotas.values.contains { !$0.isUnlimited }
    }

    /// Checks that `size` more bytes in one more message fit every distinct user's mailbox among `mailboxes`
    /// (the RCPT-time check with the client's `SIZE=`; pass 0 when the size is not known, which still refuses a
    /// mailbox already at a limit). Returns the refusal for the first user that is full, else nil.
    /// A quota file that cannot be read or written is not a refusal: the delivery decides later.
    public func quotaRefusal(for mailboxes: [DeliveryMailbox], size: Int) -> DeliveryError? {
        var seen: Set<String> = []
        for mailbox in mailboxes where seen.insert(mailbox.maildir.path).inserted {
            let quota = quota(for: mailbox.user)
            guard !quota.isUnlimited, let usage = try? currentQuotaUsage(of: mailbox.maildir, quota: quota) else { continue }
            if !usage.admits(bytes: size, messages: 1, within: quota) {
                return quotaError(user: mailbox.user, quota: quota, usage: usage, isTemporary: configuration.quotaFullIsTemporary)
            }
        }
        return nil
    }

    /// The usage of a user's root Maildir, recalculating `maildirsize` when needed; zero before the
    /// Maildir exists.
    func currentQuotaUsage(of maildir: Maildir, quota: MailboxQuota) throws(SystemError) -> MaildirQuotaUsage {
        guard maildir.exists else { return .zero }
        let result = try maildir.quotaUsage(for: quota, now: Int64(clock.now().seconds))
        if result.recalculated {
            logSink.log(LogRecord(.info, "quota.recalculated", session: nil, [
                ("maildir", maildir.path), ("bytes", String(result.usage.byteCount)),
                ("messages", String(result.usage.messageCount)),
            ]))
        }
        return result.usage
    }

    /// The refusal for a full mailbox: 5.2.2 (or 4.2.2 when temporary), naming the user, the limits and the remedy.
    func quotaError(user: MailAddress, quota: MailboxQuota, usage: MaildirQuotaUsage, isTemporary: Bool) -> DeliveryError {
        DeliveryError(
            EnhancedStatusCode(isTemporary ? 4 : 5, 2, 2),
            "Mailbox full: <\(LogRecord.escape(user.description))> is over quota (\(quota)); the user must delete mail")
    }

    /// Puts the quota warning into `maildir` (the user's INBOX), bypassing the quota, and counts it in
    /// `maildirsize`. Failures are logged, never thrown (the message that crossed is already delivered); the
    /// result says whether the warning was stored.
    @discardableResult
    func deliverQuotaWarning(user: MailAddress, maildir: Maildir, usage: MaildirQuotaUsage, quota: MailboxQuota, percent: Int, sessionID: String?) -> Bool {
        let now = clock.now()
        let hostname = configuration.hostname
        let lines = [
            "From: Mail Delivery System <MAILER-DAEMON@\(hostname)>",
            "To: <\(user)>",
            "Subject: Your mailbox is \(percent)% full",
            "Date: \(MailDateFormatter.format(seconds: now.seconds, offsetMinutes: MailDateFormatter.localOffsetMinutes(at: now.seconds)))",
            "Message-ID: <quota.\(random.token(length: 16))@\(hostname)>",
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=us-ascii",
            "",
            "Your mailbox <\(user)> now holds \(usage), which is \(percent)% or more",
            "of its quota (\(quota)).",
            "",
            "When it is full, new mail to you will be refused. Please delete mail you",
            "no longer need (and empty the trash) to make room.",
        ]
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        do throws(SystemError) {
            let draft = try MaildirDraft(handle: maildir.openHandle(inside: configuration.mailRoot), baseName: names.next())
            try draft.write(bytes)
            let name = try draft.commit(virtualSize: bytes.count + lines.count)
            try? maildir.appendQuotaDelta(bytes: bytes.count, messages: 1)
            logSink.log(LogRecord(.info, "quota.warning_sent", session: sessionID, [
                ("user", user.description), ("percent", String(percent)), ("file", name),
            ]))
            return true
        } catch {
            logSink.log(LogRecord(.warning, "quota.warning_failed", session: sessionID, [
                ("user", user.description), ("error", error.description),
            ]))
            return false
        }
    }
}
