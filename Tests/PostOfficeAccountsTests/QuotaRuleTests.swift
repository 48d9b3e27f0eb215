// QuotaRuleTests: Dovecot's per-user quota in the passwd-file extra fields (`userdb_quota_rule=*:storage=2G`,
// `userdb_quota_rule2=*:messages=N`), applied on top of the configured default; a rule we cannot honour is
// refused with the line number instead of being ignored.

import Testing
import PostOfficeCore
@testable import PostOfficeAccounts

@Suite struct QuotaRuleTests {
    @Test func extraFieldsGiveTheUsersQuota() throws {
        let text = """
            alice@example.test:{PLAIN}a::::::userdb_quota_rule=*:storage=2G userdb_quota_rule2=*:messages=500
            bob@example.test:{PLAIN}b::::::quota_rule=*:storage=512M
            carol@example.test:{PLAIN}c
            dave@example.test:{PLAIN}d::::::userdb_mail=maildir:~/Maildir
            erin@example.test:{PLAIN}e::::::userdb_quota_rule=*:messages=9 userdb_quota_rule2=Trash:storage=+100M
            """
        let database = try UserDatabase(parsing: text)
        let base = MailboxQuota(storageBytes: 1 << 30, messageCount: 1000)
        #expect(database.user(named: "alice@example.test")?.quota(startingFrom: base) == MailboxQuota(storageBytes: 2 << 30, messageCount: 500))
        #expect(database.user(named: "bob@example.test")?.quota(startingFrom: base) == MailboxQuota(storageBytes: 512 << 20, messageCount: 1000))
        #expect(database.user(named: "carol@example.test")?.quota(startingFrom: base) == nil)
        #expect(database.user(named: "dave@example.test")?.quotaRules == [])
        // A rule for one folder is Dovecot's: accepted in the file, no effect here.
        #expect(database.user(named: "erin@example.test")?.quota(startingFrom: base) == MailboxQuota(storageBytes: 1 << 30, messageCount: 9))
    }

    @Test(arguments: ["*:storage=lots", "*:storage=+100M", "*:storage=10%", "*:messages"])
    func rulesWeCannotHonourAreRefusedWithTheLine(rule: String) {
        let text = "alice@example.test:{PLAIN}a\nbob@example.test:{PLAIN}b::::::userdb_quota_rule=\(rule)\n"
        #expect(throws: AccountsError.self) { try UserDatabase(parsing: text) }
        do {
            _ = try UserDatabase(parsing: text)
        } catch {
            #expect("\(error)".contains("2"), "\(error)")
            #expect("\(error)".contains("quota rule"), "\(error)")
        }
    }
}
