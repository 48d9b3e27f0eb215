// ServeCommand: `postoffice [serve]` — prepares the data folder on first run, starts the server, prints
// where it listens and how to try it, writes its pid file, and handles SIGHUP (re-read postoffice.conf, users
// and aliases; reopen the log) and SIGTERM/SIGINT (graceful stop), telling systemd about each (Type=notify).

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PostOffice

struct ServeCommand {
    let options: CommandLineOptions

    func run() throws -> Int32 {
        Self.limitMallocArenas()
        // Blocked before any thread exists (threads inherit the mask), so a SIGTERM or SIGHUP that comes
        // before the signal sources below stays pending for them instead of being lost or killing mid-start.
        var handled = sigset_t()
        sigemptyset(&handled)
        for number in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&handled, number) }
        pthread_sigmask(SIG_BLOCK, &handled, nil)
        let setup = Setup(options: options)
        var configuration = try setup.configuration(forServing: true)
        var prepared = try setup.prepareDataDirectory(&configuration)
        // Shown before anything that can fail (a port in use): the users file now exists, so a second
        // start would not make a new password.
        if let password = prepared.generatedPassword {
            print("Created postmaster@localhost with password \(password)")
            print("  (shown once; if it is lost, set a new one with `postoffice user passwd postmaster@localhost`)")
            fflush(nil)
        }
        let standardError = StandardErrorLogSink(minimumLevel: options.isVerbose ? .debug : .info)
        var fileLog: FileLogSink?
        if let path = configuration.logFile {
            let existed = FileSystem.fileExists(atPath: path)
            do {
                fileLog = try FileLogSink(path: path, minimumLevel: standardError.minimumLevel, next: standardError)
            } catch {
                throw ConfigurationProblem("log_file: cannot open \(path): \(error) (fix the path or its folder's permissions)")
            }
            if !existed { prepared.created.append(path) }
        }
        let log: any LogSink = fileLog ?? standardError
        try Privileges.prepare(configuration, created: prepared.created)
        let server = try PostOfficeServer(configuration: configuration, logSink: log, isVerbose: options.isVerbose)
        do {
            try server.start()
        } catch let error as SystemError {
            throw UsageError("cannot listen: \(error)")
        }
        // Connected while still root, so the notify socket stays usable after the switch to run_as_user.
        let notifier = SystemdNotifier()
        if let user = configuration.runAsUser {
            try Privileges.drop(to: user)
        }
        RunningServer.writePidFile(dataDirectory: configuration.dataDirectory)
        // No SIG_IGN here: setting it discards a signal already pending (a TERM sent during start-up). The
        // signals stay blocked in every thread, so Dispatch's signalfd gets them and no default action runs.
        let signals = DispatchQueue(label: "postoffice.signals")
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: signals)
        hup.setEventHandler {
            notifier.reloading()
            defer { notifier.ready(status: "Serving mail (reloaded)") }
            do {
                try fileLog?.reopen()
            } catch {
                log.log(LogRecord(.error, "server.log_reopen_failed", [("error", "\(error)")]))
            }
            // postoffice.conf is read again (with the same command-line flags on top); a mistake in it is
            // logged and the server keeps the configuration it has.
            do {
                try server.reload(configuration: setup.configuration(forServing: true))
            } catch {
                log.log(LogRecord(.error, "server.reload_failed", [
                    ("error", "\(error)"), ("hint", "fix the file and reload again; the server keeps its current settings"),
                ]))
            }
        }
        hup.resume()
        var stoppers: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: signals)
            source.setEventHandler {
                log.log(LogRecord(.info, "server.stopping", [("signal", number == SIGTERM ? "TERM" : "INT")]))
                notifier.stopping()
                server.shutdown()
                RunningServer.removePidFile(dataDirectory: configuration.dataDirectory)
                exit(0)
            }
            source.resume()
            stoppers.append(source)
        }

        print("PostOffice is serving mail for \(configuration.domains.joined(separator: ", ")) from \(configuration.dataDirectory)")
        for address in server.smtpAddresses { print("  SMTP  \(address)") }
        for address in server.pop3Addresses { print("  POP3  \(address)") }
        for address in server.submissionAddresses { print("  Submission  \(address) (AUTH required)") }
        for address in server.smtpsAddresses { print("  Submissions \(address) (implicit TLS, AUTH required)") }
        for address in server.pop3sAddresses { print("  POP3S \(address) (implicit TLS)") }
        for address in server.metricsAddresses { print("  Metrics http://\(address)/metrics") }
        if let tls = configuration.tls {
            print("  TLS   STARTTLS and STLS with \(tls.certificateChainPath)")
        } else {
            print("  TLS   off (tls_certificate is empty): no STARTTLS or STLS")
        }
        if let path = configuration.logFile { print("  Log   \(path) and standard error") }
        if let smtp = server.smtpAddresses.first {
            print("Try it: swaks --server \(smtp.host) --port \(smtp.port) --to postmaster@localhost")
        }
        fflush(nil)
        // Listening and announced: a Type=notify unit counts as started from here.
        notifier.ready(status: "Serving mail for \(configuration.domains.joined(separator: ", "))")

        // Not dispatchMain(): on Linux it parks the main thread in sigsuspend with an empty mask, so a SIGHUP
        // could be delivered to that thread instead of staying pending for the signal source (a reload was
        // lost now and then: SystemdTests waited 20 s for RELOADING=1). pause() keeps the mask blocked;
        // nothing here uses the main queue.
        withExtendedLifetime((hup, stoppers, fileLog, notifier)) {
            Self.waitForSignals()
        }
    }
}

extension ServeCommand {
    /// Parks the main thread for good with the signals still blocked; the signal sources do the rest.
    static func waitForSignals() -> Never {
        while true { pause() }
    }

    /// Caps glibc's malloc arenas at one per event loop (one per core, at least two), unless
    /// MALLOC_ARENA_MAX says otherwise.
    ///
    /// Why: glibc gives each thread that meets contention its own arena, up to eight per core, and each
    /// keeps its freed memory. The server's 16 storage threads and Dispatch workers reached six arenas
    /// under 50 SMTP sessions (smtp-source -s 50 -m 4000); capped at two, the peak RSS was 0.3 to 0.8 MB
    /// lower in paired runs on 2 cores (18.5 instead of 18.9 MB at the last count), with no measurable
    /// change in messages per second. It is set here, not in the library: malloc settings belong to the process, and an
    /// embedding application makes its own choice.
    ///
    /// Swift's Glibc module leaves out <malloc.h>, so mallopt is looked up at run time; where it is
    /// missing this does nothing.
    static func limitMallocArenas() {
        guard getenv("MALLOC_ARENA_MAX") == nil,
            let handle = dlopen(nil, RTLD_LAZY),
            let symbol = dlsym(handle, "mallopt")
        else { return }
        typealias MallocOption = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: MallocOption.self)
        let arenaMaximum: Int32 = -8  // M_ARENA_MAX in glibc's <malloc.h>
        let arenas = max(2, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        _ = mallopt(arenaMaximum, Int32(clamping: arenas))
    }
}
