// ServerEnvironment: what a server takes from the world and never owns — the log sink, the clock and the
// source of randomness — injected so tests run on a fixed clock and read the log, with the helpers that
// write one log line per event with the session id.

#if canImport(Glibc)
import Glibc
#endif
import PostOfficeCore

/// The injected log, clock and randomness of one server, shared by all its sessions.
final class ServerEnvironment: Sendable {
    let logSink: any LogSink
    let clock: any MailClock
    let random: any RandomSource
    /// `--verbose`: every protocol line goes to the log (credentials redacted by WireTrace).
    let isVerbose: Bool
    /// The local offset from UTC at start-up, for Received: and Date: headers.
    let timeZoneOffsetMinutes: Int

    init(logSink: any LogSink, clock: any MailClock, random: any RandomSource, isVerbose: Bool) {
        self.logSink = logSink
        self.clock = clock
        self.random = random
        self.isVerbose = isVerbose
        var now = time_t(clock.now().seconds)
        var parts = tm()
        localtime_r(&now, &parts)
        timeZoneOffsetMinutes = Int(parts.tm_gmtoff) / 60
    }

    /// Logs one event of a session: the session id and, first among the fields given, what the event is about.
    func log(_ level: LogRecord.Level, _ event: String, _ connection: Connection, _ fields: KeyValuePairs<String, String> = [:]) {
        logSink.log(LogRecord(level, event, session: connection.id, fields.map { ($0.key, $0.value) }))
    }

    /// Logs protocol trace lines (`--verbose`).
    func trace(_ lines: [String], from side: String, _ connection: Connection) {
        for line in lines {
            logSink.log(LogRecord(.debug, "wire", session: connection.id, [(side == "client" ? "C" : "S", line)]))
        }
    }
}
