// XText: the "xtext" encoding of RFC 3461 §4, which carries ENVID= and ORCPT= values through SMTP.
// Reports show those values decoded; the decoder refuses anything that is not valid xtext.

/// Encoder and decoder of xtext ([RFC 3461 §4](https://www.rfc-editor.org/rfc/rfc3461#section-4)):
/// printable US-ASCII except `+` and `=` stands for itself; every other byte is `+` and two upper-case
/// hex digits (`a+b` is `a+2Bb`).
public enum XText {
    /// Encodes the UTF-8 bytes of `text` as xtext.
    public static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            if isXChar(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "+"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes xtext to bytes; nil when `text` is not xtext (a byte outside `!`…`~`, a bare `=`, or `+`
    /// without two hex digits). Lower-case hex digits are accepted: being lenient here loses nothing.
    public static func decodeBytes(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "+") {
                guard i + 2 < bytes.count,
                    let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2])
                else { return nil }
                out.append(high << 4 | low)
                i += 3
            } else {
                guard isXChar(byte) else { return nil }
                out.append(byte)
                i += 1
            }
        }
        return out
    }

    /// Decodes xtext to text; nil when it is not xtext or the bytes are not UTF-8.
    public static func decode(_ text: String) -> String? {
        guard let bytes = decodeBytes(text) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// xchar: `!` through `~` except `+` and `=`.
    static func isXChar(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) && byte != UInt8(ascii: "+") && byte != UInt8(ascii: "=")
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
