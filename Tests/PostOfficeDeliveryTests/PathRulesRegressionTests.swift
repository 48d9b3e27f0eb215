// PathRulesRegressionTests: the path-safety bugs the fuzzer (fuzz-address-path) found, one row each, so
// they stay fixed: checks must look at bytes, not at Swift Characters that glue combining marks on.

import PostOfficeMaildir
import Testing
@testable import PostOfficeDelivery

@Suite struct PathRulesRegressionTests {
    @Test(arguments: ["shared\u{0}%n", "%d\u{1}/%n", "%d/%n\u{85}", "%d/\u{2028}%n", "../\u{301}%n", "%d/../\u{301}%n"])
    func templatesWithControlsOrHiddenDotDotAreRefused(template: String) {
        #expect(MailboxLayout(template: template) == nil)
    }

    @Test(arguments: ["\u{301}%n", "%d/%n", "%n/Maildir", "é%d/%n"])
    func templatesThatStayInsideAreAccepted(template: String) {
        #expect(MailboxLayout(template: template) != nil)
    }

    @Test func aCombiningMarkAfterSlashDoesNotHideDotDot() {
        #expect(!MailboxPathRules.isLexicallyInside("/srv/mail/../\u{301}alice", root: "/srv/mail"))
        #expect(MailboxPathRules.isLexicallyInside("/srv/mail/\u{301}alice", root: "/srv/mail"))
    }

    @Test(arguments: [".\u{301}alice", "..\u{301}", "a..\u{301}b"])
    func aCombiningMarkDoesNotHideALeadingDotOrDotDot(localPart: String) {
        #expect(!MailboxPathRules.isSafeLocalPart(localPart))
    }

    @Test(arguments: ["a\u{85}b", "line\u{2028}sep", "para\u{2029}sep", ".\u{301}x", "x.\u{301}."])
    func folderNamesWithC1SeparatorsOrHiddenDotsAreRefused(name: String) {
        #expect(!Maildir.isSafeFolderName(name))
    }
}
