// MaildirFilenameTests: tables of real-world and broken Maildir names, round trips, and totality on random bytes.
import Testing
@testable import PostOfficeCore
@testable import PostOfficeMaildir

@Suite struct MaildirFilenameTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var name: String
        var base: String
        var size: Int?
        var virtualSize: Int?
        var flags: String
        var experimental: String? = nil
        var testDescription: String { name }
    }

    static let valid: [Valid] = [
        // PostOffice / Dovecot delivery, in new/
        Valid(name: "1700000000.M123456P4242Q7.mail.example.test,S=1200,W=1230", base: "1700000000.M123456P4242Q7.mail.example.test",
              size: 1200, virtualSize: 1230, flags: ""),
        // Dovecot after \Seen
        Valid(name: "1795395928.M497414P14869.vm,S=212,W=219:2,S", base: "1795395928.M497414P14869.vm", size: 212, virtualSize: 219, flags: "S"),
        Valid(name: "1795395929.M613949P14880.vm,S=212,W=219:2,FRS", base: "1795395929.M613949P14880.vm", size: 212, virtualSize: 219, flags: "FRS"),
        // Postfix virtual/local: no fields
        Valid(name: "1795395925.Vfe00If786a5M138713.vm", base: "1795395925.Vfe00If786a5M138713.vm", flags: ""),
        // mutt: flags after reading and replying
        Valid(name: "1795395922.Vfe00If7869bM930972.vm:2,RS", base: "1795395922.Vfe00If7869bM930972.vm", flags: "RS"),
        // mblaze: info even in new/, empty flags
        Valid(name: "1795395935.M562455P14955Q1.vm:2,", base: "1795395935.M562455P14955Q1.vm", flags: ""),
        // Courier: S= only, long unique part
        Valid(name: "1066555444.M123456P7890V0000000000000803I00000000001A2B3C_0.courier.example,S=4521:2,S",
              base: "1066555444.M123456P7890V0000000000000803I00000000001A2B3C_0.courier.example", size: 4521, flags: "S"),
        // qmail classic
        Valid(name: "1066555444.7890.qmail.example", base: "1066555444.7890.qmail.example", flags: ""),
        // Dovecot keywords (lower-case letters)
        Valid(name: "1.M1P1.h,S=1:2,Sab", base: "1.M1P1.h", size: 1, flags: "Sab"),
        // other fields are kept; S= with junk is a field too
        Valid(name: "1.M1P1.h,S=10,X=abc,W=12", base: "1.M1P1.h", size: 10, virtualSize: 12, flags: ""),
        Valid(name: "1.M1P1.h,S=12a", base: "1.M1P1.h", flags: ""),
        Valid(name: "1.M1P1.h,,S=3", base: "1.M1P1.h", size: 3, flags: ""),
        // experimental info kept raw
        Valid(name: "1.M1P1.h:1,whatever,here", base: "1.M1P1.h", flags: "", experimental: "whatever,here"),
        // octal-escaped host (maildir(5))
        Valid(name: "1700000000.M0P42Q1.mx\\057a\\072b,S=18,W=21", base: "1700000000.M0P42Q1.mx\\057a\\072b", size: 18, virtualSize: 21, flags: ""),
        // non-ASCII host names are allowed
        Valid(name: "1.M1P1.hôte", base: "1.M1P1.hôte", flags: ""),
    ]

    @Test(arguments: valid)
    func parsesValidNames(_ row: Valid) throws {
        let name = try #require(MaildirFilename(row.name))
        #expect(name.base == row.base)
        #expect(name.size == row.size)
        #expect(name.virtualSize == row.virtualSize)
        #expect(name.flags.description == row.flags)
        if let experimental = row.experimental {
            #expect(name.info == .experimental(experimental))
        }
        #expect(name.description == row.name, "canonical names round-trip byte for byte")
    }

    static let invalid: [String] = [
        "", ".", "..", ".keep", ".hidden,S=1", "a/b", "/abs", "new/x:2,S",
        ",S=12", ":2,S", "a\u{0}b", "a\nb", "tab\there", "del\u{7f}",
        "x:2", "x:2;S", "x:3,S", "x:2,S1", "x:2,S:2,S", "x:2,S-", "x:", "x:2,ß",
    ]

    @Test(arguments: invalid)
    func rejectsInvalidNames(_ text: String) {
        #expect(MaildirFilename(text) == nil)
    }

    @Test(arguments: [
        ("x:2,SR", "x:2,RS"), ("x:2,SSRa", "x:2,RSa"), ("x:2,FDPRST", "x:2,DFPRST"), ("x,S=01", "x,S=01"),
    ])
    func formattingSortsFlagsAndIsStable(_ input: String, _ expected: String) throws {
        let once = try #require(MaildirFilename(input))
        #expect(once.description == expected)
        #expect(MaildirFilename(once.description) == once)
    }

    @Test func leadingZeroSizeIsNotANumber() throws {
        let name = try #require(MaildirFilename("x,S=01"))
        #expect(name.size == nil)
        #expect(name.fields == [.other("S=01")])
    }

    @Test func settingFieldsAndFlags() throws {
        var name = MaildirFilename(base: "1.M2P3.host")
        name.size = 10
        name.virtualSize = 12
        name.flags.insert(MaildirFlags.seen)
        name.flags.insert(MaildirFlags.replied)
        #expect(name.description == "1.M2P3.host,S=10,W=12:2,RS")
        name.size = nil
        #expect(name.description == "1.M2P3.host,W=12:2,RS")
        name.flags = MaildirFlags()
        #expect(name.description == "1.M2P3.host,W=12:2,")
        #expect(name.nameWithoutInfo == "1.M2P3.host,W=12")
    }

    @Test(arguments: [
        ("1700000000.M123456P42.h", MailTime(seconds: 1_700_000_000, microseconds: 123_456)),
        ("1795395925.Vfe00If786a5M138713.vm", MailTime(seconds: 1_795_395_925, microseconds: 138_713)),
        ("1066555444.7890.qmail", MailTime(seconds: 1_066_555_444)),
        ("1.M9999999P1.h", MailTime(seconds: 1)),
    ])
    func deliveryTimeFromBase(_ text: String, _ time: MailTime) throws {
        #expect(try #require(MaildirFilename(text)).deliveryTime == time)
    }

    @Test func namesWithoutTimeSortLast() throws {
        let names = ["zzz", "2.M1P1.h", "1.M5P1.h", "1.M5P1.g", "abc"].compactMap(MaildirFilename.init)
        #expect(names.sorted().map(\.description) == ["1.M5P1.g", "1.M5P1.h", "2.M1P1.h", "abc", "zzz"])
    }

    @Test func flagsNormalise() throws {
        #expect(MaildirFlags(letters: "SRS")?.description == "RS")
        #expect(MaildirFlags(letters: "S1") == nil)
        var flags: MaildirFlags = "FS"
        flags.remove(MaildirFlags.flagged)
        #expect(flags == "S")
        #expect(flags.union("TR").description == "RST")
        #expect(MaildirFlags(letters: "RST")?.subtracting("S").description == "RT")
    }

    /// Random byte strings (decoded leniently, as names from disk would be) never trap, and whatever
    /// parses is stable under format/parse.
    @Test func totalOnRandomInput() {
        let random = SeededRandomSource(seed: 0x6d61_696c_6469_72)
        let alphabet = Array("0123456789.,:=SWMPQ2 1/abc\u{0}\n\u{7f}é".utf8)
        var parsed = 0
        for _ in 0..<20_000 {
            let length = Int(random.next() % 24)
            var bytes: [UInt8] = []
            for _ in 0..<length {
                let r = random.next()
                bytes.append(r % 4 == 0 ? UInt8(truncatingIfNeeded: r >> 8) : alphabet[Int((r >> 8) % UInt64(alphabet.count))])
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if let name = MaildirFilename(text) {
                parsed += 1
                #expect(MaildirFilename(name.description) == name, "\(text.debugDescription)")
                _ = name.deliveryTime
            }
        }
        #expect(parsed > 0)
    }
}
