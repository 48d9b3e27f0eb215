// SMTPXText: decoding and encoding of RFC 3461 xtext, the encoding of DSN parameters ENVID and ORCPT.

/// xtext ([RFC 3461 §4](https://www.rfc-editor.org/rfc/rfc3461#section-4)): printable ASCII except `+` and
/// `=`, with any octet written as `+XX` (two hexadecimal digits).
enum SMTPXText {
    /// Decodes `text`; nil when it is not valid xtext or does not decode to UTF-8.
    /// Lower-case hex digits are accepted too (be liberal in what you accept).
    static func decode(_ text: some Collection<UInt8>) -> String? {
        var out: [UInt8] = []
        var iterator = text.makeIterator()
        while let c = iterator.next() {
            switch c {
            case UInt8(ascii: "+"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                out.append(high << 4 | low)
            case UInt8(ascii: "="):
                return nil
            case 33...126:
                out.append(c)
            default:
                return nil
            }
        }
        let decoded = String(decoding: out, as: UTF8.self)
        return Array(decoded.utf8) == out ? decoded : nil
    }

    /// Encodes `text`: `+`, `=`, spaces, controls and every non-ASCII byte (UTF-8) become `+XX`.
    static func encode(_ text: String) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for c in text.utf8 {
            if (33...126).contains(c) && c != UInt8(ascii: "+") && c != UInt8(ascii: "=") {
                out.append(c)
            } else {
                out += [UInt8(ascii: "+"), hexDigits[Int(c >> 4)], hexDigits[Int(c & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 65...70: c - 55
        case 97...102: c - 87
        default: nil
        }
    }
}
