// OpenDKIMInteropTests: messages signed by OpenDKIM verify with us. The `opendkim` filter (Debian package
// opendkim) signs in its test mode (`-t FILE`, which prints the field it would insert), RSA and Ed25519,
// relaxed/relaxed on the awkward messages of DKIMInteropTests, and RSA simple/simple on all but the one with
// folded headers. (opendkim-testmsg signs only rsa-sha1, which RFC 8301 forbids verifiers to accept, so the
// filter is used. The cases left out fail with dkimpy exactly as with us: OpenDKIM 2.11's test mode.)

import Foundation
import PostOfficeDKIM
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The OpenDKIM filter, or nil.
let openDKIMFilter: String? = ["/usr/sbin/opendkim", "/usr/bin/opendkim"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite(.enabled(if: openDKIMFilter != nil, "opendkim is not installed (apt-get install opendkim)"))
struct OpenDKIMInteropTests {
    static var opendkim: String? { openDKIMFilter }

    /// OpenDKIM refuses a key or configuration below any folder others may write (like /tmp, even with its
    /// sticky bit): the first of the build folder, /run and the home folder with no such folder above it. (A
    /// checkout under /tmp, as a CI clone may be, rules out the build folder.)
    static func workDirectory() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [root.path + "/.build", "/run", FileManager.default.homeDirectoryForCurrentUser.path]
        let base = try #require(candidates.first { isPrivatePath($0) }, "no folder without world- or group-writable parents")
        let directory = base + "/opendkim-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return directory
    }

    /// True when `path` and every folder above it exist and neither group nor others may write them.
    static func isPrivatePath(_ path: String) -> Bool {
        var current = URL(fileURLWithPath: path).standardizedFileURL.path
        while true {
            var status = stat()
            guard stat(current, &status) == 0, status.st_mode & (S_IWGRP | S_IWOTH) == 0 else { return false }
            if current == "/" { return true }
            current = URL(fileURLWithPath: current).deletingLastPathComponent().path
            if current.isEmpty { current = "/" }
        }
    }

    /// The DKIM-Signature field OpenDKIM makes for `message`, CRLF-terminated.
    static func sign(_ message: [UInt8], key: String, algorithm: String, canonicalization: String, in directory: String) throws -> String {
        let keyPath = directory + "/key.pem"
        if !FileManager.default.fileExists(atPath: keyPath) {
            try key.write(toFile: keyPath, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyPath)
        }
        let configuration = """
            Domain example.com
            KeyFile \(keyPath)
            Selector \(algorithm == "rsa-sha256" ? "rsa" : "ed")
            Mode s
            Canonicalization \(canonicalization)
            SignatureAlgorithm \(algorithm)
            OversignHeaders From
            Syslog no
            """
        try configuration.write(toFile: directory + "/opendkim.conf", atomically: true, encoding: .utf8)
        try Data(message).write(to: URL(fileURLWithPath: directory + "/message"))
        // system(3), not Process: output into files, nothing to stall on.
        let status = system("\(opendkim!) -x \(directory)/opendkim.conf -t \(directory)/message -vv > \(directory)/out 2> \(directory)/err")
        let output = (try? String(contentsOfFile: directory + "/out", encoding: .utf8)) ?? ""
        guard status == 0, let start = output.range(of: "### INSHEADER: idx=0 hname='DKIM-Signature' hvalue='") else {
            let errors = (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? ""
            throw OpenDKIMFailure(description: "opendkim -t failed (\(status)): \(output) \(errors)")
        }
        let value = output[start.upperBound...].prefix { $0 != "'" }
        return "DKIM-Signature: " + value.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
    }

    @Test("OpenDKIM's signatures verify with us", arguments: ["rsa-sha256", "ed25519-sha256"])
    func openDKIMSignsWeVerify(algorithm: String) throws {
        let directory = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = algorithm == "rsa-sha256" ? DKIMInteropTests.rsa.privateKeyPEM : DKIMInteropTests.ed25519.pem
        // Ed25519 with simple header canonicalisation: OpenDKIM 2.11's signatures fail with dkimpy as with us.
        let canonicalizations = algorithm == "rsa-sha256" ? ["simple/simple", "relaxed/relaxed"] : ["relaxed/relaxed"]
        for canonicalization in canonicalizations {
            // OpenDKIM does not sign a body without a final CRLF ("CRLF at end of body missing"), and its test
            // mode's simple/simple signature of folded header fields fails with dkimpy as with us.
            for (name, message) in DKIMInteropTests.messages where message.suffix(2) == [13, 10]
                && (canonicalization == "relaxed/relaxed" || !name.contains("folded")) {
                let field = try Self.sign(message, key: key, algorithm: algorithm, canonicalization: canonicalization, in: directory)
                #expect(field.contains("a=\(algorithm);") && field.contains("c=\(canonicalization);"), "\(field)")
                let signed = Array(field.utf8) + message
                let results = DKIMTestSupport.verify(
                    signed, dns: DKIMInteropTests.dns, now: Int(Date().timeIntervalSince1970), chunks: [7, 100])
                #expect(results.map(\.status) == [.pass], "\(algorithm) \(canonicalization) \(name): \(results)")
                // A changed body must fail: the check is real.
                let tampered = DKIMTestSupport.verify(
                    signed + Array("x\r\n".utf8), dns: DKIMInteropTests.dns, now: Int(Date().timeIntervalSince1970), chunks: [])
                #expect(tampered.map(\.status) != [.pass], "\(name)")
            }
        }
    }
}

struct OpenDKIMFailure: Error, CustomStringConvertible {
    var description: String
}
