// AuthenticationResultsHeader: composes the one Authentication-Results header (RFC 8601) an inbound
// message gets — our authserv-id, then the SPF, DKIM (one per signature) and DMARC results — and reads the
// authserv-id of an existing one, so a header claiming to be ours (a forgery) can be removed (RFC 8601 §5).

import PostOfficeDKIM
import PostOfficeSPF

/// The results of checking one message, as an `Authentication-Results:` field.
struct AuthenticationResultsHeader: Sendable {
    var authservID: String
    var spf: SPFOutcome?
    /// One per DKIM-Signature; ``DKIMResult/none`` alone when the message had none.
    var dkim: [DKIMResult]
    var dmarc: DMARCOutcome?
    /// Why DMARC was not evaluated (no single From: domain), reported as `dmarc=permerror`.
    var dmarcProblem: String?

    /// The method-specs, in order ([RFC 8601 §2.2](https://www.rfc-editor.org/rfc/rfc8601#section-2.2)).
    var entries: [String] {
        var entries: [String] = []
        entries.reserveCapacity(dkim.count + 2)
        if let spf { entries.append(spf.authenticationResultsEntry) }
        for result in dkim { entries.append(result.authenticationResult) }
        if let dmarc {
            entries.append(dmarc.authenticationResultsEntry)
        } else if let dmarcProblem {
            entries.append("dmarc=permerror (\(Self.commentSafe(dmarcProblem)))")
        }
        return entries
    }

    /// The whole field with its CRLF, each result folded onto its own line; `none` when nothing was checked.
    var field: String { String(decoding: fieldBytes, as: UTF8.self) }

    /// ``field`` as the bytes a message gets, built in one buffer (every checked message gets one).
    var fieldBytes: [UInt8] {
        let entries = entries
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + authservID.utf8.count + entries.reduce(0) { $0 + 4 + $1.utf8.count })
        bytes.append(contentsOf: "Authentication-Results: ".utf8)
        bytes.append(contentsOf: authservID.utf8)
        guard !entries.isEmpty else {
            bytes.append(contentsOf: "; none\r\n".utf8)
            return bytes
        }
        for entry in entries {
            bytes.append(contentsOf: ";\r\n\t".utf8)
            bytes.append(contentsOf: entry.utf8)
        }
        bytes.append(contentsOf: "\r\n".utf8)
        return bytes
    }

    /// The authserv-id of an `Authentication-Results` field value (the bytes after the colon): the first
    /// token or quoted-string after white space and comments, lower-cased; nil when there is none.
    static func authservID(ofValue value: some Collection<UInt8>) -> String? {
        var bytes = Array(value)[...]
        // Skip CFWS: white space, line breaks and (nested) comments.
        while let byte = bytes.first {
            if byte == 32 || byte == 9 || byte == 13 || byte == 10 {
                bytes = bytes.dropFirst()
            } else if byte == UInt8(ascii: "(") {
                var depth = 0
                while let inner = bytes.first {
                    bytes = bytes.dropFirst()
                    if inner == UInt8(ascii: "\\") {
                        bytes = bytes.dropFirst()
                    } else if inner == UInt8(ascii: "(") {
                        depth += 1
                    } else if inner == UInt8(ascii: ")") {
                        depth -= 1
                        if depth == 0 { break }
                    }
                }
            } else {
                break
            }
        }
        var id: [UInt8] = []
        if bytes.first == UInt8(ascii: "\"") {
            bytes = bytes.dropFirst()
            while let byte = bytes.first, byte != UInt8(ascii: "\"") {
                bytes = bytes.dropFirst()
                if byte == UInt8(ascii: "\\"), let escaped = bytes.first {
                    id.append(escaped)
                    bytes = bytes.dropFirst()
                } else if byte != 13 && byte != 10 {
                    id.append(byte)
                }
            }
        } else {
            id = Array(bytes.prefix { $0 > 32 && $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: "(") && $0 != 127 })
        }
        guard !id.isEmpty else { return nil }
        return String(decoding: id, as: UTF8.self).lowercased()
    }

    /// True when `value` is the value of an Authentication-Results field that claims our authserv-id.
    static func claims(_ authservID: String, value: some Collection<UInt8>) -> Bool {
        Self.authservID(ofValue: value) == authservID.lowercased()
    }

    /// Keeps a comment balanced and on one line.
    private static func commentSafe(_ text: String) -> String {
        String(text.map { "()\\\r\n".contains($0) ? " " : $0 })
    }
}
