// ServeCommand: `postoffice [serve]` — prepares the data folder on first run, starts the server, prints
// where it listens and how to try it, and handles SIGHUP (reload) and SIGTERM/SIGINT (graceful stop).

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOffice

struct ServeCommand {
    let options: CommandLineOptions

    func run() throws -> Int32 {
        let setup = Setup(options: options)
        var configuration = try setup.configuration()
        let generatedPassword = try setup.prepareDataDirectory(&configuration)
        let log = StandardErrorLogSink(minimumLevel: options.isVerbose ? .debug : .info)
        let server = try PostOfficeServer(configuration: configuration, logSink: log, isVerbose: options.isVerbose)
        do {
            try server.start()
        } catch let error as SystemError {
            throw UsageError("cannot listen: \(error)")
        }
        if let user = configuration.runAsUser {
            try Privileges.drop(to: user)
        }
        print("PostOffice is serving mail for \(configuration.domains.joined(separator: ", ")) from \(configuration.dataDirectory)")
        for address in server.smtpAddresses { print("  SMTP  \(address)") }
        for address in server.pop3Addresses { print("  POP3  \(address)") }
        for address in server.smtpsAddresses { print("  SMTPS \(address) (implicit TLS)") }
        for address in server.pop3sAddresses { print("  POP3S \(address) (implicit TLS)") }
        if let tls = configuration.tls { print("  TLS   STARTTLS and STLS with \(tls.certificateChainPath)") }
        if let generatedPassword {
            print("Created postmaster@localhost with password \(generatedPassword) (shown once; change it with `postoffice user passwd`).")
        }
        if let smtp = server.smtpAddresses.first {
            print("Try it: swaks --server \(smtp.host) --port \(smtp.port) --to postmaster@localhost")
        }
        fflush(nil)

        signal(SIGHUP, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signals = DispatchQueue(label: "postoffice.signals")
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: signals)
        hup.setEventHandler {
            do {
                try server.reloadAccounts()
            } catch {
                log.log(LogRecord(.error, "server.reload_failed", [("error", "\(error)")]))
            }
        }
        hup.resume()
        var stoppers: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: signals)
            source.setEventHandler {
                log.log(LogRecord(.info, "server.stopping", [("signal", number == SIGTERM ? "TERM" : "INT")]))
                server.shutdown()
                exit(0)
            }
            source.resume()
            stoppers.append(source)
        }
        withExtendedLifetime((hup, stoppers)) {
            dispatchMain()
        }
    }
}

struct CheckCommand {
    let options: CommandLineOptions

    /// Validates the config (and the users and aliases files), then prints every effective setting.
    func run() throws -> Int32 {
        let configuration = try Setup(options: options).configuration()
        _ = try PostOfficeServer(configuration: configuration)
        for line in ConfigurationFile.render(configuration) { print(line) }
        return 0
    }
}
