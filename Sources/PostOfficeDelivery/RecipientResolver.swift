// RecipientResolver: turns an envelope recipient into the Maildirs that receive it — alias expansion with
// cycle and depth limits, subaddressing, catch-alls — and refuses any address that could leave the mail root.

import PostOfficeCore
import PostOfficeMaildir

/// Resolves recipient addresses against a ``DeliveryDirectory`` and a ``MailboxLayout``.
///
/// Order of lookup for `local@domain` (lower-cased), the same order Postfix uses for virtual aliases:
/// 1. the local part and domain must pass ``MailboxPathRules`` (else `.invalidAddress`, 5.1.3);
/// 2. the domain must be local (else `.relayDenied`, 5.7.1);
/// 3. an alias for the full address, then a user with the full address;
/// 4. with subaddressing, `user+tag` → an alias or user `user` (a user reached this way may get the copy in
///    its `.tag` folder when ``deliversSubaddressToFolders`` is on and that folder exists; aliases do not pass
///    the tag on);
/// 5. the domain's catch-all, expanded like an alias.
///
/// `postmaster` (any case) is always accepted ([RFC 5321 §4.5.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.1)):
/// `postmaster@<local domain>` with no user or alias of that name, and `postmaster@<hostname>` — the form the
/// SMTP path parser gives a bare `<postmaster>` — go to ``postmasterAddress`` (itself resolved by the steps
/// above), or failing that to the `postmaster` user or alias of the first local domain (in byte order) that
/// has one. Only when neither exists does the normal lookup (catch-all, else unknown user) decide.
///
/// Alias targets are expanded recursively up to ``maximumAliasDepth`` levels. A target already on the
/// current expansion path is a cycle: it is not expanded again, but if it is a user it still gets its copy
/// (so `alice → alice, bob` keeps a copy for alice, as Postfix does). Targets in non-local domains or
/// unknown local targets are skipped: we never relay. If nothing deliverable remains the result is
/// `.aliasLoop` when a cycle or the depth limit was met, else `.unknownUser`. Duplicate destinations are
/// removed, and at most ``maximumMailboxes`` are returned.
public struct RecipientResolver: Sendable {
    public var directory: DeliveryDirectory
    /// Absolute path of the directory holding every Maildir.
    public var mailRoot: String
    public var layout: MailboxLayout
    /// Deliver `user+tag` into the `.tag` Maildir++ folder when it exists.
    public var deliversSubaddressToFolders: Bool
    /// Deepest alias nesting followed.
    public var maximumAliasDepth: Int
    /// Most mailboxes one address may expand to.
    public var maximumMailboxes: Int
    /// Our host name: `postmaster@<hostname>` is the bare `<postmaster>` as the SMTP parser qualifies it.
    public var hostname: String?
    /// Who receives `postmaster` mail when no user or alias of that name exists (see the type's notes).
    public var postmasterAddress: MailAddress?

    public init(
        directory: DeliveryDirectory,
        mailRoot: String,
        layout: MailboxLayout = .domainThenLocalPart,
        deliversSubaddressToFolders: Bool = false,
        maximumAliasDepth: Int = 10,
        maximumMailboxes: Int = 1000,
        hostname: String? = nil,
        postmasterAddress: MailAddress? = nil
    ) {
        self.directory = directory
        var root = mailRoot
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.mailRoot = root
        self.layout = layout
        self.deliversSubaddressToFolders = deliversSubaddressToFolders
        self.maximumAliasDepth = maximumAliasDepth
        self.maximumMailboxes = maximumMailboxes
        self.hostname = hostname
        self.postmasterAddress = postmasterAddress
    }

    /// Resolves one recipient. Checks the file system only to see whether a `+tag` folder exists.
    public func resolve(_ address: MailAddress) -> RecipientResolution {
        guard MailboxPathRules.isSafeLocalPart(address.localPart), MailboxPathRules.isSafeDomain(address.domain)
        else { return .invalidAddress }
        if MailAddress.canonicalLocalPart(address.localPart) == "postmaster", let postmaster = resolvePostmaster(domain: address.domain) {
            return postmaster
        }
        return resolveWithoutPostmasterRule(address)
    }

    /// Resolves like ``resolve(_:)``, and also returns the alias targets outside the local domains that the
    /// expansion reached (`team: alice, bob@elsewhere.example`), for a server that forwards them through its
    /// outbound queue. The resolution may be a failure (an alias with only remote targets) while `remote`
    /// is not empty.
    public func resolveForwarding(_ address: MailAddress) -> (resolution: RecipientResolution, remote: [MailAddress]) {
        guard MailboxPathRules.isSafeLocalPart(address.localPart), MailboxPathRules.isSafeDomain(address.domain),
            directory.isLocal(domain: address.domain)
        else { return (resolve(address), []) }
        if MailAddress.canonicalLocalPart(address.localPart) == "postmaster", let postmaster = resolvePostmaster(domain: address.domain) {
            return (postmaster, [])
        }
        var expansion = Expansion()
        expansion.collectsRemote = true
        let key = DeliveryDirectory.key(localPart: address.localPart, domain: address.domain)
        expand(key, originalLocalPart: address.localPart, depth: 0, path: [], into: &expansion)
        return (Self.resolution(of: expansion), expansion.remote)
    }

    /// `postmaster@domain` when the postmaster rule applies to it, else nil (look it up as usual).
    private func resolvePostmaster(domain: String) -> RecipientResolution? {
        let domain = MailAddress.canonicalDomain(domain)
        let isOurHostname = hostname.map { MailAddress.canonicalDomain($0).utf8.elementsEqual(domain.utf8) } ?? false
        if directory.isLocal(domain: domain) {
            // A user or an alias-file entry of that name overrides the rule.
            let key = DeliveryDirectory.key(localPart: "postmaster", domain: domain)
            if directory.hasUser(key) || directory.aliasTargets(key) != nil { return nil }
        } else if !isOurHostname {
            return nil
        }
        // The target resolves without this rule, so `postmaster_address = postmaster@x` cannot loop.
        if let postmasterAddress, case .local(let boxes) = resolveWithoutPostmasterRule(postmasterAddress) {
            return .local(boxes)
        }
        for local in directory.localDomains.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let key = DeliveryDirectory.key(localPart: "postmaster", domain: local)
            guard directory.hasUser(key) || directory.aliasTargets(key) != nil,
                case .local(let boxes) = resolveWithoutPostmasterRule(MailAddress(localPart: "postmaster", domain: local))
            else { continue }
            return .local(boxes)
        }
        // Nobody to receive it: a local domain still has its catch-all; our bare host name has no one.
        return directory.isLocal(domain: domain) ? nil : .unknownUser
    }

    private func resolveWithoutPostmasterRule(_ address: MailAddress) -> RecipientResolution {
        guard MailboxPathRules.isSafeLocalPart(address.localPart), MailboxPathRules.isSafeDomain(address.domain)
        else { return .invalidAddress }
        guard directory.isLocal(domain: address.domain) else { return .relayDenied }
        var expansion = Expansion()
        let key = DeliveryDirectory.key(localPart: address.localPart, domain: address.domain)
        expand(key, originalLocalPart: address.localPart, depth: 0, path: [], into: &expansion)
        if expansion.mailboxes.isEmpty {
            if expansion.invalidUser { return .invalidAddress }
            return expansion.loopDetected ? .aliasLoop : .unknownUser
        }
        return .local(expansion.mailboxes)
    }

    /// The Maildir of a user (`local@domain`, any ASCII case), or nil when it would be unsafe.
    public func maildir(forUser user: MailAddress) -> Maildir? {
        let local = MailAddress.canonicalLocalPart(user.localPart)
        let domain = MailAddress.canonicalDomain(user.domain)
        guard MailboxPathRules.isSafeLocalPart(local), MailboxPathRules.isSafeDomain(domain) else { return nil }
        let path = mailRoot + "/" + layout.relativePath(localPart: local, domain: domain)
        guard MailboxPathRules.isLexicallyInside(path, root: mailRoot) else { return nil }
        return Maildir(path: path)
    }

    /// The Maildir of an account for reading it (POP3 login): ``maildir(forUser:)``'s lexical guard, then
    /// no symbolic link, file or `..` anywhere between the mail root and the Maildir's `tmp/`, `new/` and
    /// `cur/` (``Maildir/verifyContainment(inside:creating:)``). So `kate -> alice` does not open alice's
    /// mail for kate. Nil when unsafe; a Maildir not created yet passes (there is no link to follow).
    public func checkedMaildir(forAccount account: MailAddress) -> Maildir? {
        guard let maildir = maildir(forUser: account) else { return nil }
        do {
            try maildir.verifyContainment(inside: mailRoot, creating: false)
        } catch {
            return nil
        }
        return maildir
    }

    private struct Expansion {
        var mailboxes: [DeliveryMailbox] = []
        var destinations: Set<String> = []
        var loopDetected = false
        var invalidUser = false
        /// Keep the non-local alias targets met (``resolveForwarding(_:)``) instead of only skipping them.
        var collectsRemote = false
        var remote: [MailAddress] = []
    }

    private static func resolution(of expansion: Expansion) -> RecipientResolution {
        if expansion.mailboxes.isEmpty {
            if expansion.invalidUser { return .invalidAddress }
            return expansion.loopDetected ? .aliasLoop : .unknownUser
        }
        return .local(expansion.mailboxes)
    }

    private func expand(
        _ key: String, originalLocalPart: String?, depth: Int, path: Set<String>, into expansion: inout Expansion
    ) {
        guard expansion.mailboxes.count < maximumMailboxes else { return }
        guard depth <= maximumAliasDepth else {
            expansion.loopDetected = true
            return
        }
        guard let at = MailAddress.lastAtSign(in: key) else { return }
        let local = String(key[..<at])
        let domain = String(key[key.index(after: at)...])
        // Non-local alias targets are skipped: this agent never relays. A server that forwards them
        // through its queue collects them (only those reached through an alias).
        guard !local.isEmpty, directory.isLocal(domain: domain) else {
            if expansion.collectsRemote, depth > 0, !local.isEmpty, let target = MailAddress(key),
                !expansion.remote.contains(target), expansion.remote.count < maximumMailboxes
            {
                expansion.remote.append(target)
            }
            return
        }

        if let targets = directory.aliasTargets(key) {
            let innerPath = path.union([key])
            for target in targets {
                if innerPath.contains(target) {
                    expansion.loopDetected = true
                    if directory.hasUser(target) { add(user: target, tag: nil, into: &expansion) }
                    continue
                }
                expand(target, originalLocalPart: nil, depth: depth + 1, path: innerPath, into: &expansion)
            }
            return
        }
        if directory.hasUser(key) {
            add(user: key, tag: nil, into: &expansion)
            return
        }
        if let delimiter = directory.subaddressDelimiter, let split = local.firstIndex(of: delimiter),
            split != local.startIndex
        {
            let baseKey = "\(local[..<split])@\(domain)"
            if directory.aliasTargets(baseKey) != nil || directory.hasUser(baseKey) {
                if directory.aliasTargets(baseKey) != nil {
                    // `a → a+x` would come back here forever; the path stops it at once.
                    guard !path.contains(baseKey) else {
                        expansion.loopDetected = true
                        return
                    }
                    expand(baseKey, originalLocalPart: nil, depth: depth, path: path, into: &expansion)
                } else {
                    add(user: baseKey, tag: tag(of: originalLocalPart ?? local, delimiter: delimiter), into: &expansion)
                }
                return
            }
        }
        if let target = directory.catchAllTarget(domain: domain), target != key {
            if path.contains(target) {
                expansion.loopDetected = true
                if directory.hasUser(target) { add(user: target, tag: nil, into: &expansion) }
                return
            }
            expand(target, originalLocalPart: nil, depth: depth + 1, path: path.union([key]), into: &expansion)
        }
    }

    private func tag(of localPart: String, delimiter: Character) -> String? {
        guard let split = localPart.firstIndex(of: delimiter) else { return nil }
        let tag = String(localPart[localPart.index(after: split)...])
        return tag.isEmpty ? nil : tag
    }

    private func add(user key: String, tag: String?, into expansion: inout Expansion) {
        // Lookups matched `key` byte for byte (DeliveryDirectory.hasUser), so it is the directory's own bytes.
        guard let user = MailAddress(key), let maildir = maildir(forUser: user) else {
            expansion.invalidUser = true
            return
        }
        var mailbox = DeliveryMailbox(user: user, maildir: maildir)
        if deliversSubaddressToFolders, let tag {
            mailbox.folder = existingFolder(named: tag, in: maildir)
        }
        let destination = mailbox.destination.path
        guard !expansion.destinations.contains(destination) else { return }
        expansion.destinations.insert(destination)
        expansion.mailboxes.append(mailbox)
    }

    /// The `.tag` folder if it exists, trying the tag as written and then with ASCII letters lowercased.
    private func existingFolder(named tag: String, in maildir: Maildir) -> Maildir? {
        for name in [tag, MailAddress.canonicalLocalPart(tag)] {
            // A folder reached through a link is no folder of this user's: deliver to the INBOX instead.
            if let folder = maildir.folder(named: name), folder.exists,
                MailboxPathRules.isLexicallyInside(folder.path, root: mailRoot),
                (try? folder.verifyContainment(inside: mailRoot, creating: false)) != nil
            {
                return folder
            }
        }
        return nil
    }
}
