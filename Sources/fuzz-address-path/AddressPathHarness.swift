// AddressPathHarness: builds a directory in which the fuzzed address is a user, an alias target and a
// catch-all target, resolves it every way delivery can, and checks each resulting path independently of
// MailboxPathRules (which is what is under test).

import PostOfficeCore
import PostOfficeDelivery
import PostOfficeFuzzSupport
import PostOfficeMaildir

struct AddressPathHarness {
    /// Layout templates tried; index chosen by the input. The last slot takes a fuzzed template.
    static let templates = ["%d/%n", "%n/Maildir", "%u", "users/%d/%%/%n", "%n.%d", "%d/%n/%u"]
    static let roots = ["/srv/mail", "/srv/mail/", "/"]

    private let localPart: String
    private let domain: String
    private let tag: String
    private let templateText: String
    private let layoutChoice: Int
    private let root: String
    private let subaddressFolders: Bool

    /// Input: byte 0 picks layout, root and options; the rest is `local 0xFF domain 0xFF tag 0xFF template`,
    /// decoded leniently (invalid UTF-8 becomes U+FFFD) unless bit 7 asks for strict decoding.
    init(_ bytes: [UInt8]) {
        let input = FuzzInput(bytes, headerCount: 1)
        let parts = input.payload.split(separator: 0xFF, maxSplits: 3, omittingEmptySubsequences: false)
        func text(_ index: Int) -> String {
            guard index < parts.count else { return "" }
            if input.flag(7), let strict = String(validating: parts[index], as: UTF8.self) { return strict }
            return String(decoding: parts[index], as: UTF8.self)
        }
        localPart = text(0)
        domain = text(1)
        tag = text(2)
        templateText = text(3)
        layoutChoice = Int(input.header[0] & 0x07)
        root = Self.roots[Int((input.header[0] >> 3) & 0x03) % Self.roots.count]
        subaddressFolders = input.flag(5)
    }

    func run() {
        // The documented rules, byte-wise: an accepted local part or domain neither starts with "." nor
        // contains "..", whatever combining marks follow the dots.
        for (text, isSafe) in [
            (localPart, MailboxPathRules.isSafeLocalPart(localPart)), (domain, MailboxPathRules.isSafeDomain(domain)),
        ] where isSafe {
            let bytes = Array(text.utf8)
            precondition(bytes.first != UInt8(ascii: "."), "accepted a component starting with a dot: \(bytes)")
            precondition(!zip(bytes, bytes.dropFirst()).contains { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") },
                "accepted a component containing two dots: \(bytes)")
        }
        let layout: MailboxLayout
        if layoutChoice < Self.templates.count {
            guard let fixed = MailboxLayout(template: Self.templates[layoutChoice]) else {
                preconditionFailure("a fixed template was refused")
            }
            layout = fixed
        } else if let fuzzed = MailboxLayout(template: templateText) {
            checkTemplate(fuzzed)
            layout = fuzzed
        } else {
            layout = .domainThenLocalPart
        }

        let address = MailAddress(localPart: localPart, domain: domain)
        let key = DeliveryDirectory.key(localPart: localPart, domain: domain)
        let directory = DeliveryDirectory(
            localDomains: ["example.org", domain],
            users: ["alice@example.org", key, "\(localPart)@example.org"],
            aliases: ["list@example.org": [key, "alice@example.org"], "fwd@\(domain)": [key]],
            catchAll: ["example.org": key]
        )
        let resolver = RecipientResolver(
            directory: directory, mailRoot: root, layout: layout, deliversSubaddressToFolders: subaddressFolders)

        if let maildir = resolver.maildir(forUser: address) {
            check(maildir.path, resolver: resolver, what: "maildir(forUser:)")
            // Safe parts must be what made it through.
            precondition(MailboxPathRules.isSafeLocalPart(localPart.lowercased()), "unsafe local part accepted")
            if let folder = maildir.folder(named: tag) {
                check(folder.path, resolver: resolver, what: "folder(named:)")
            }
        }
        let addresses = [
            address,
            MailAddress(localPart: "list", domain: "example.org"),
            MailAddress(localPart: "nobody", domain: "example.org"),
            MailAddress(localPart: "fwd", domain: domain),
            MailAddress(localPart: "alice+\(tag)", domain: "example.org"),
            MailAddress(localPart: "\(localPart)+\(tag)", domain: domain),
        ]
        for candidate in addresses {
            let resolution = resolver.resolve(candidate)
            if case .local(let mailboxes) = resolution {
                precondition(!mailboxes.isEmpty, ".local with no mailboxes")
                for mailbox in mailboxes {
                    check(mailbox.maildir.path, resolver: resolver, what: "resolve(\(candidate)).maildir")
                    check(mailbox.destination.path, resolver: resolver, what: "resolve(\(candidate)).destination")
                    for sub in [mailbox.destination.tmpPath, mailbox.destination.newPath, mailbox.destination.curPath] {
                        check(sub, resolver: resolver, what: "resolve(\(candidate)) subdirectory")
                    }
                }
            } else {
                precondition(resolution.mailboxes.isEmpty, "a failure carries mailboxes")
            }
        }
    }

    /// A template accepted by MailboxLayout, expanded with plain safe values, stays inside the root.
    private func checkTemplate(_ layout: MailboxLayout) {
        // A NUL cuts the path short in every system call ("shared\0%n" would be one Maildir for everyone),
        // and other controls make unreadable directory names: an accepted template must have neither.
        precondition(layout.template.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F },
            "MailboxLayout accepted a template with a control character: \(Array(layout.template.utf8))")
        let relative = layout.relativePath(localPart: "alice", domain: "example.org")
        precondition(!relative.hasPrefix("/"), "accepted template expands to an absolute path: \(layout)")
        let resolver = RecipientResolver(directory: DeliveryDirectory(), mailRoot: "/srv/mail", layout: layout)
        if let maildir = resolver.maildir(forUser: MailAddress(localPart: "alice", domain: "example.org")) {
            check(maildir.path, resolver: resolver, what: "template \(layout)")
        } else {
            // Refusing is safe, but an accepted template should work for the plainest address.
            precondition(relative.split(separator: "/").contains { $0 == "." || $0 == ".." }, "template \(layout) unusable")
        }
    }

    /// The independent check: below the (normalised) root, every component after it is a proper name.
    private func check(_ path: String, resolver: RecipientResolver, what: String) {
        let mailRoot = resolver.mailRoot
        // With the root "/" the resolver writes "//domain/user" (same directory on Linux): accepted as such.
        let prefix = mailRoot + "/"
        // Bytes only: String.hasPrefix and split work on grapheme clusters, and "/" followed by a combining
        // mark is one cluster, so they would not see the separator the file system sees.
        precondition(path.utf8.starts(with: prefix.utf8) && path.utf8.count > prefix.utf8.count,
            "\(what): \(path) is not below \(mailRoot)")
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        let components = rest.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for component in components {
            precondition(!component.isEmpty, "\(what): empty component in \(path)")
            precondition(!component.elementsEqual(".".utf8) && !component.elementsEqual("..".utf8),
                "\(what): dot component in \(path)")
        }
        for byte in rest {
            precondition(byte >= 0x20 && byte != 0x7F, "\(what): control byte \(byte) in \(path)")
        }
        // Also through Unicode eyes: no C1 controls or separators that look like line breaks in logs.
        for scalar in path.unicodeScalars {
            let value = scalar.value
            precondition(!(0x80...0x9F).contains(value) && value != 0x2028 && value != 0x2029,
                "\(what): control scalar U+\(String(value, radix: 16)) in \(path)")
        }
    }
}
