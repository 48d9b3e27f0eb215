// MailboxPathRulesTests: hostile local parts and domains never reach a path outside the mail root;
// harmless unusual ones still resolve. The lexical containment check is tested on its own too.

import Testing
import PostOfficeCore
@testable import PostOfficeDelivery

@Suite struct MailboxPathRulesTests {
    static let hostileLocalParts: [String] = [
        "", ".", "..", "...", ".alice", "..alice", "alice..", "al..ice", "../alice", "../../etc/passwd",
        "a/b", "/", "/etc", "alice/", "alice/..", "a\\b", "\\", "..\\..\\x", "a\u{0}b", "\u{0}",
        "alice\u{0}", "a\rb", "a\nb", "a\r\nb", "\n", "a\tb", "\u{1}", "\u{1b}[31m", "a\u{7f}", "\u{7f}",
        "a\u{85}b", "a\u{9b}b", "a\u{2028}b", "a\u{2029}b", "\u{feff}alice", ".hidden", ". ",
        String(repeating: "a", count: 65), String(repeating: "é", count: 33), "../.", "x/../../y",
        "%2e%2e/", "..%2f", "a/./b", "./a", "a\u{0}/../b", ".\u{0}.", "\u{0}..", "\u{1f}x", "x\u{8}",
        "..../", "a\\..\\b",
    ]

    @Test func thereAreAboutFiftyHostileCases() {
        #expect(Self.hostileLocalParts.count >= 50)
    }

    @Test(arguments: hostileLocalParts)
    func hostileLocalPartsAreRefused(_ localPart: String) {
        #expect(!MailboxPathRules.isSafeLocalPart(localPart), "\(localPart.debugDescription) must be refused")
        // And through the resolver, even with a catch-all that would accept anything.
        let directory = DeliveryDirectory(
            localDomains: ["example.org"], users: ["catchall@example.org"],
            catchAll: ["example.org": "catchall@example.org"])
        let resolver = RecipientResolver(directory: directory, mailRoot: "/srv/mail")
        let result = resolver.resolve(MailAddress(localPart: localPart, domain: "example.org"))
        for mailbox in result.mailboxes {
            #expect(MailboxPathRules.isLexicallyInside(mailbox.destination.path, root: "/srv/mail"))
            #expect(mailbox.destination.path == "/srv/mail/example.org/catchall")
        }
        #expect(result == .invalidAddress)
    }

    @Test(arguments: ["..", "../x", "a/b", "", ".example.org", "ex\u{0}ample.org", "a\\b", "x\ny"])
    func hostileDomainsAreRefused(_ domain: String) {
        #expect(!MailboxPathRules.isSafeDomain(domain))
        let resolver = RecipientResolver(directory: DeliveryDirectory(localDomains: [domain]), mailRoot: "/srv/mail")
        #expect(resolver.resolve(MailAddress(localPart: "alice", domain: domain)) == .invalidAddress)
    }

    @Test(arguments: ["alice", "a.b", "a+b", "o'brien", "x_y-z", "日本", "a b", "user=x", "~", "a.b.c", "%n", "a@b"])
    func unusualButHarmlessLocalPartsPass(_ localPart: String) {
        #expect(MailboxPathRules.isSafeLocalPart(localPart))
    }

    @Test func hostileUserEntriesInTheDirectoryAreNotUsed() throws {
        let directory = DeliveryDirectory(
            localDomains: ["example.org"], aliases: ["evil@example.org": ["../root@example.org"]])
        let resolver = RecipientResolver(directory: directory, mailRoot: "/srv/mail")
        #expect(resolver.resolve(try #require(MailAddress("evil@example.org"))).mailboxes.isEmpty)
    }

    @Test(arguments: [
        ("/srv/mail/a/b", "/srv/mail", true),
        ("/srv/mail//a", "/srv/mail/", true),
        ("/srv/mail", "/srv/mail", false),
        ("/srv/mailx/a", "/srv/mail", false),
        ("/srv/mail/../etc", "/srv/mail", false),
        ("/srv/mail/./a", "/srv/mail", false),
        ("/srv/other", "/srv/mail", false),
        ("relative/a", "/srv/mail", false),
        ("/srv/mail/a", "relative", false),
        ("/srv/mail/a/..", "/srv/mail", false),
    ])
    func lexicalContainment(_ path: String, _ root: String, _ inside: Bool) {
        #expect(MailboxPathRules.isLexicallyInside(path, root: root) == inside)
        #expect(Self.isLexicallyInsideByComponents(path, root: root) == inside)
    }

    /// The component-array version `isLexicallyInside` had before it worked on the bytes in place: the reference
    /// the tests compare it with.
    static func isLexicallyInsideByComponents(_ path: String, root: String) -> Bool {
        guard path.utf8.first == UInt8(ascii: "/"), root.utf8.first == UInt8(ascii: "/") else { return false }
        func components(_ text: String) -> [[UInt8]] {
            Array(text.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map(Array.init)
        }
        func isDot(_ component: [UInt8]) -> Bool { component == [0x2E] || component == [0x2E, 0x2E] }
        let pathComponents = components(path), rootComponents = components(root)
        if pathComponents.contains(where: isDot) || rootComponents.contains(where: isDot) { return false }
        guard pathComponents.count > rootComponents.count else { return false }
        return Array(pathComponents.prefix(rootComponents.count)) == rootComponents
    }

    /// The in-place byte checks (the delivery hot path) answer as the component-array and scalar versions
    /// they replaced, on random paths and names from an alphabet of the bytes that matter.
    @Test(arguments: 1...20)
    func fastChecksAgreeWithTheReferenceOnes(seed: UInt64) {
        let random = SeededRandomSource(seed: seed)
        let pieces = ["/", "/", "a", "b", ".", "..", "\\", "\u{1}", "\u{7f}", "é", "\u{85}", "\u{2028}", "x.y", "-"]
        func text(_ count: Int) -> String {
            (0..<count).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
        }
        for _ in 0..<300 {
            let name = text(Int(random.next() % 6))
            #expect(MailboxPathRules.isSafeComponent(name) == MailboxPathRules.isSafeComponentByScalars(name), "\(name.debugDescription)")
            let root = "/" + text(Int(random.next() % 4))
            let path = (random.next() % 2 == 0 ? root : "/") + text(Int(random.next() % 6))
            #expect(MailboxPathRules.isLexicallyInside(path, root: root) == Self.isLexicallyInsideByComponents(path, root: root),
                    "\(path.debugDescription) in \(root.debugDescription)")
        }
    }
}
