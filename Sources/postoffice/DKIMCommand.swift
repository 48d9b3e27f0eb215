// DKIMCommand: `postoffice dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]` — writes a new
// signing key into dkim_key_directory and prints the DNS TXT record to publish; never overwrites a key.

#if canImport(Glibc)
import Glibc
#endif
import PostOffice

struct DKIMCommand {
    let options: CommandLineOptions
    let words: [String]

    static let help = """
        Usage: postoffice dkim generate DOMAIN [--selector NAME] [--algorithm rsa|ed25519]
          (with --data DIR / --config FILE as for serve)

        Makes a DKIM signing key for DOMAIN (the domain of your From: addresses) and prints the DNS TXT
        record to publish for it. The key goes to dkim_key_directory (default DATA/dkim) as
        DOMAIN/SELECTOR.pem, mode 0600; an existing key is never overwritten. Mail we send (submission,
        sendmail, delivery reports) whose From: domain is exactly DOMAIN is then signed with every key in
        that folder: make an RSA and an Ed25519 key to sign with both. A running server picks the key up
        at once (it is reloaded for you); publish the record before sending, or receivers see a failing
        signature.

        Options:
          --selector NAME        the selector, the record's first label (default: rsa, or ed25519)
          --algorithm rsa|ed25519  RSA 2048 bits (default; every receiver checks it) or Ed25519 (RFC 8463)

        Examples:
          postoffice dkim generate example.com
          postoffice dkim generate example.com --algorithm ed25519
          postoffice dkim generate example.com --selector 2027a        (a new key for rotation)
        """

    func run() throws -> Int32 {
        var words = self.words
        guard words.first == "generate" else {
            throw UsageError("dkim needs generate (see postoffice dkim --help)")
        }
        words.removeFirst()
        var selector: String?
        var algorithm = DKIMKeyGeneration.Algorithm.rsa
        var domain: String?
        while !words.isEmpty {
            let word = words.removeFirst()
            switch word {
            case "--selector":
                guard !words.isEmpty else { throw UsageError("--selector needs a NAME") }
                selector = words.removeFirst()
            case "--algorithm":
                guard !words.isEmpty, let chosen = DKIMKeyGeneration.Algorithm(rawValue: words.removeFirst().lowercased()) else {
                    throw UsageError("--algorithm takes rsa or ed25519")
                }
                algorithm = chosen
            default:
                guard domain == nil, !word.hasPrefix("-") else {
                    throw UsageError("dkim generate takes one DOMAIN, got '\(word)' (see postoffice dkim --help)")
                }
                domain = word
            }
        }
        guard let domain else { throw UsageError("dkim generate needs a DOMAIN, like example.com") }
        let setup = Setup(options: options)
        try setup.requireDataDirectory()
        let configuration = try setup.configuration()
        if let user = configuration.runAsUser, geteuid() == 0 {
            // The server, running as that user, must be able to read the key.
            try Privileges.drop(to: user)
        }
        let generated: DKIMKeyGeneration
        do {
            generated = try DKIMKeyGeneration.generate(
                domain: domain, selector: selector, algorithm: algorithm, directory: configuration.dkimKeyDirectory)
        } catch {
            printError("postoffice: \(error)")
            return 1
        }
        print("wrote \(generated.keyPath)")
        print("publish this DNS record (TXT), then mail from \(domain.lowercased()) is signed:")
        print(generated.zoneLine)
        RunningServer.reloadAfterChange(dataDirectory: options.dataDirectory)
        return 0
    }
}
