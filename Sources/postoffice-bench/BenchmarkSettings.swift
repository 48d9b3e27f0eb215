// BenchmarkSettings: the options of `postoffice-bench compare` — rounds, which parts and servers to run,
// load sizes, ports, and where the shared peer scripts, the postoffice binary and the results are.

import Foundation

/// Options of the `compare` subcommand.
struct BenchmarkSettings {
    static let help = """
        Usage: postoffice-bench compare [options]
          --rounds N          interleaved rounds (default 3); every server runs every load once per round (POP3's rounds
                              come after every SMTP round and the disk ceiling: its seeding deletes files)
          --quick             short run: 1 round, 300 messages per load (100 of 100 KB), short fsync/POP3
          --count N           messages per SMTP load (default 2000; 100 KB loads use N/2)
          --pop3-messages N   10 KB messages seeded for each POP3 run (default 40000; --quick 200): CPU is read
                              in 10 ms ticks, and with 4 clients 10,000 messages were a 0.2 s run whose rounds
                              spread 1.31-1.55x against Dovecot (2026-12-07 13:16 UTC); 40,000 last ~0.5 s
          --only LIST         parts, comma separated: smtp,rcpts,latency,fsync,pop3 (default all); smtp is
                              1 KB and 10 KB x 10 and 50 sessions, and 100 KB x 50; rcpts is 10 KB x 10
                              sessions x 5 recipients
          --targets LIST      SMTP servers: postoffice,postfix,aiosmtpd,floor (default the first three;
                              `postoffice-bench floor` runs floor,postoffice,postfix); floor is
                              `postoffice-bench floor-server` on 2745: canned replies, only the durable writes
          --postoffice PATH   the postoffice binary (default .build/release/postoffice)
          --baseline PATH     a second postoffice binary (an older build), run beside the first as server
                              "baseline" on SMTP 2735 / POP3 1320, every load, order alternating by round;
                              the summary adds per-round msg/s and the ratios postoffice / baseline
          --bench-dir DIR     the shared peer scripts (default $POSTOFFICE_BENCH_DIR, else ../shared/bench)
          --results DIR       where JSON lines, logs and summary.md go (default .build/bench-results/<UTC time>)
          --keep              leave the servers running and the state directory in place
          --delete-between-runs  empty new/ before each SMTP run by deleting the files (smtp_load.py --clean, the
                              method before 2026-12-07 03:00); by default they are moved aside (renamed into
                              the state folder, deleted at the end), because on ext4 without a journal the
                              inodes of thousands of just-deleted files slow every file creation for the next
                              30-60 s (`recently_deleted`), which is then most of what a run measures
          --mail-authentication  PostOffice checks SPF, DKIM and DMARC on the loads (loopback included): a dnsmasq
                              on 127.0.0.1:2753 serves example.test's records, every message is DKIM-signed
                              (rsa-2048; smtp-source -F, the same bytes for every server)
          --baseline-unchecked  with --mail-authentication: the baseline server does not check (loopback is
                              skipped by default), so postoffice / baseline is the on ÷ off ratio in one run
                              (give the same binary to --postoffice and --baseline)
          --dovecot-plain-passwords  leave Dovecot's passdb in plaintext, as peers/up.sh writes it ({PLAIN}, the
                              method before 2026-12-07 13:30); by default each user's entry is given the
                              {SHA512-CRYPT} hash PostOffice's users file holds for the same password, so both
                              servers verify the same hash at every POP3 login (5,000 rounds of SHA-512,
                              ~8 ms of CPU: with 4 clients and 10,000 messages, ~8 % of the box's CPU)
          --python PATH       interpreter for the load scripts (default $PYTHON, else /usr/bin/python3)
        Ports: PostOffice SMTP 2725 / POP3 1310; the peers use POSTFIX_PORT (2625), POP3_PORT (1210) and
        AIOSMTPD_PORT (2626) from the environment, as peers/up.sh does. Needs root (Postfix, Dovecot).
        """

    var rounds = 3
    var isQuick = false
    var count = 2000
    var pop3Messages = 40_000
    var parts: Set<String> = ["smtp", "rcpts", "latency", "fsync", "pop3"]
    var targets: [String] = ["postoffice", "postfix", "aiosmtpd"]
    var postofficeBinary = ".build/release/postoffice"
    /// `--baseline`: an older postoffice build to compare with, side by side.
    var baselineBinary: String?
    var benchDirectory: String
    var resultsDirectory: String
    var keepsServers = false
    /// Empty new/ by deleting (smtp_load.py --clean) instead of moving the files aside.
    var deletesBetweenRuns = false
    /// `--mail-authentication`: see MailAuthenticationLoad.
    var checksMailAuthentication = false
    /// With --mail-authentication: the baseline server leaves it off (same signed messages), an on/off pair.
    var baselineSkipsMailAuthentication = false
    /// `--dovecot-plain-passwords`: Dovecot compares plaintext passwords while PostOffice verifies a hash.
    var dovecotKeepsPlainPasswords = false
    var python: String
    var showsHelp = false

    var postofficeSMTPPort: UInt16 = 2725
    var postofficePOP3Port: UInt16 = 1310
    var baselineSMTPPort: UInt16 = 2735
    var baselinePOP3Port: UInt16 = 1320
    var floorPort: UInt16 = 2745
    var postfixPort: UInt16
    var dovecotPort: UInt16
    var aiosmtpdPort: UInt16

    init(_ arguments: [String]) throws {
        let environment = ProcessInfo.processInfo.environment
        benchDirectory = environment["POSTOFFICE_BENCH_DIR"] ?? "../shared/bench"
        python = environment["PYTHON"] ?? "/usr/bin/python3"
        postfixPort = UInt16(environment["POSTFIX_PORT"] ?? "") ?? 2625
        dovecotPort = UInt16(environment["POP3_PORT"] ?? "") ?? 1210
        aiosmtpdPort = UInt16(environment["AIOSMTPD_PORT"] ?? "") ?? 2626
        resultsDirectory = ".build/bench-results/" + OptionReader.timestamp()
        var countGiven = false
        var pop3Given = false
        var options = OptionReader(arguments)
        while let argument = options.next() {
            switch argument {
            case "--rounds": rounds = try options.number(argument)
            case "--quick": isQuick = true
            case "--count":
                count = try options.number(argument)
                countGiven = true
            case "--pop3-messages":
                pop3Messages = try options.number(argument)
                pop3Given = true
            case "--only":
                parts = Set(try options.value(argument).split(separator: ",").map(String.init))
                let known: Set<String> = ["smtp", "rcpts", "latency", "fsync", "pop3"]
                guard parts.isSubset(of: known) else { throw BenchmarkError("--only: parts are \(known.sorted().joined(separator: ","))") }
            case "--targets":
                targets = try options.value(argument).split(separator: ",").map(String.init)
                guard Set(targets).isSubset(of: ["postoffice", "postfix", "aiosmtpd", "floor"]) else {
                    throw BenchmarkError("--targets: postoffice, postfix, aiosmtpd, floor")
                }
            case "--postoffice": postofficeBinary = try options.value(argument)
            case "--baseline": baselineBinary = try options.value(argument)
            case "--bench-dir": benchDirectory = try options.value(argument)
            case "--results": resultsDirectory = try options.value(argument)
            case "--keep": keepsServers = true
            case "--delete-between-runs": deletesBetweenRuns = true
            case "--mail-authentication": checksMailAuthentication = true
            case "--baseline-unchecked": baselineSkipsMailAuthentication = true
            case "--dovecot-plain-passwords": dovecotKeepsPlainPasswords = true
            case "--python": python = try options.value(argument)
            case "--help", "-h": showsHelp = true
            default: throw BenchmarkError("compare: unknown option \(argument) (see compare --help)")
            }
        }
        if baselineBinary != nil, let index = targets.firstIndex(of: "postoffice") {
            targets.insert("baseline", at: index + 1)
        }
        if isQuick {
            if !countGiven { count = 300 }
            if !pop3Given { pop3Messages = 200 }
            if !arguments.contains("--rounds") { rounds = 1 }
        }
    }

    /// Messages for a load of `size` bytes.
    func messages(size: Int) -> Int { size >= 100 * 1024 ? max(1, count / 2) : count }
}
