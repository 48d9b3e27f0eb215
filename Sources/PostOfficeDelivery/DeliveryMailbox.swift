// DeliveryMailbox: one place a copy of a message goes — the user it belongs to, the user's Maildir,
// and the Maildir++ folder chosen by a `+tag`, if any.

import PostOfficeCore
import PostOfficeMaildir

/// A resolved destination: a user's Maildir and, for `user+tag` with folder delivery on, the `.tag` folder.
public struct DeliveryMailbox: Hashable, Sendable, CustomStringConvertible {
    /// The user (canonical form: ASCII letters lowercased), as written in `Delivered-To:` and compared by loop detection.
    public var user: MailAddress
    /// The user's Maildir (its INBOX).
    public var maildir: Maildir
    /// The Maildir++ folder the copy goes to instead of INBOX, if a subaddress selected one.
    public var folder: Maildir?

    public init(user: MailAddress, maildir: Maildir, folder: Maildir? = nil) {
        self.user = user
        self.maildir = maildir
        self.folder = folder
    }

    /// The Maildir that receives the file: the folder if any, else the INBOX.
    public var destination: Maildir { folder ?? maildir }

    public var description: String { "\(user) -> \(destination.path)" }
}
