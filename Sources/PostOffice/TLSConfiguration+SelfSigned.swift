// TLSConfiguration+SelfSigned: TLS out of the box — a self-signed certificate and key for our host name,
// made once when neither file exists (the CLI's first `serve`), never over an operator's files.

import PostOfficeCore
import PostOfficeTLS

extension TLSConfiguration {
    /// Writes a new self-signed certificate (ECDSA P-256) for `hostName` and its private key when neither
    /// file exists. Returns true when it made them, false when both were there; throws when only one exists
    /// (neither is replaced) or they cannot be made or written.
    @discardableResult
    public static func createSelfSignedCertificateIfMissing(
        hostName: String, certificatePath: String, privateKeyPath: String
    ) throws -> Bool {
        try SelfSignedCertificate.createIfMissing(
            hostName: hostName, certificatePath: certificatePath, privateKeyPath: privateKeyPath,
            clock: SystemClock(), random: SystemRandomSource())
    }
}
