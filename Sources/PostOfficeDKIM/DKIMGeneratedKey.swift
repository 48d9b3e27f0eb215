// DKIMGeneratedKey: a fresh DKIM key pair with the two things an operator needs from it, the private key
// PEM for the signer and the TXT record text to publish; the engine behind `postoffice dkim generate`.

/// A generated key pair and what to publish for it: for `postoffice dkim generate`.
public struct DKIMGeneratedKey: Sendable {
    public var privateKey: DKIMPrivateKey
    /// The private key as PKCS #8 PEM, to store (mode 0600) and give to the signer.
    public var privateKeyPEM: String { privateKey.pem }
    /// The TXT record text for `selector._domainkey.domain`: `v=DKIM1; k=ed25519; p=...`.
    public var txtRecord: String { privateKey.keyRecord.serialized }

    /// Generates RSA-2048 (or `rsaBits`) or Ed25519 ([RFC 8463](https://www.rfc-editor.org/rfc/rfc8463)).
    public init(_ keyType: DKIMKeyType, rsaBits: Int = 2048) throws(DKIMKeyError) {
        privateKey = try DKIMPrivateKey.generate(keyType, rsaBits: rsaBits)
    }
}
