// DeliveryTestSupport: temporary mail roots, a log sink that records, a directory syncer that fails on
// demand, and small file helpers shared by the delivery tests.

import Foundation
import PostOfficeCore
import PostOfficeMaildir
@testable import PostOfficeDelivery

/// A fresh directory under the system temporary directory.
func makeTemporaryDirectory(_ label: String = "delivery") -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("po-\(label)-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Records every log record.
final class RecordingLogSink: LogSink, @unchecked Sendable {
    private let lock = Lock()
    private var stored: [LogRecord] = []
    func log(_ record: LogRecord) { lock.withLock { stored.append(record) } }
    var records: [LogRecord] { lock.withLock { stored } }
}

/// A syncer that fails (EIO) for directories whose path contains `failingFragment`.
struct FailingDirectorySyncer: DirectorySyncer {
    var failingFragment: String
    func synchronize(directories: [DirectoryReference]) throws(SystemError) {
        for directory in directories {
            if directory.path.contains(failingFragment) { throw SystemError("fsync", errno: EIO, detail: directory.path) }
            try directory.sync()
        }
    }
}

/// A syncer that counts the directories it synced.
final class CountingDirectorySyncer: DirectorySyncer, @unchecked Sendable {
    private let lock = Lock()
    private var synced: [String] = []
    func synchronize(directories: [DirectoryReference]) throws(SystemError) {
        lock.withLock { synced.append(contentsOf: directories.map(\.path)) }
        try ImmediateDirectorySyncer().synchronize(directories: directories)
    }
    var directories: [String] { lock.withLock { synced } }
}

/// Files in a directory, sorted; empty when it does not exist.
func files(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

func contents(of path: String) -> [UInt8] {
    (FileManager.default.contents(atPath: path)).map { Array($0) } ?? []
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A standard test setup: mail root, directory with users in two domains, agent.
struct DeliveryFixture {
    let root: String
    let agent: LocalDeliveryAgent
    let logs: RecordingLogSink
    let clock: ManualClock

    init(
        directory: DeliveryDirectory? = nil,
        copyMethod: DeliveryConfiguration.CopyMethod = .copyBody,
        syncer: any DirectorySyncer = ImmediateDirectorySyncer(),
        maximumMessageSize: Int? = nil,
        deliversSubaddressToFolders: Bool = false,
        quota: MailboxQuota = .unlimited,
        quotaFullIsTemporary: Bool = false,
        quotaWarningPercent: Int? = nil,
        unnamedCopyLimit: Int = DeliveryTransaction.defaultUnnamedCopyLimit,
        allowsUnnamedFiles: Bool = true,
        openMaildirLimit: Int = DeliveryConfiguration.defaultOpenMaildirLimit
    ) {
        root = makeTemporaryDirectory()
        logs = RecordingLogSink()
        clock = ManualClock()
        let defaultDirectory = DeliveryDirectory(
            localDomains: ["example.org", "example.net"],
            users: ["alice@example.org", "bob@example.org", "carol@example.net"],
            aliases: ["team@example.org": ["alice@example.org", "bob@example.org"]])
        var configuration = DeliveryConfiguration(
            mailRoot: root + "/mail", hostname: "mx.example.org",
            deliversSubaddressToFolders: deliversSubaddressToFolders, copyMethod: copyMethod,
            maximumMessageSize: maximumMessageSize, quota: quota, quotaFullIsTemporary: quotaFullIsTemporary,
            quotaWarningPercent: quotaWarningPercent)
        configuration.unnamedCopyLimit = unnamedCopyLimit
        configuration.allowsUnnamedFiles = allowsUnnamedFiles
        configuration.openMaildirLimit = openMaildirLimit
        agent = LocalDeliveryAgent(
            configuration: configuration,
            directory: directory ?? defaultDirectory,
            clock: clock, random: SeededRandomSource(seed: 7), logSink: logs, directorySyncer: syncer, processID: 4242)
    }

    func trace(helo: String = "client.example.com", protocolName: String = "ESMTP") -> TraceInfo {
        TraceInfo(
            sessionID: "s1", queueID: "Q1", heloName: helo, clientAddress: "192.0.2.7",
            clientHostname: "client.example.com", protocolName: protocolName, hostname: "mx.example.org")
    }

    func address(_ text: String) -> MailAddress {
        guard let address = MailAddress(text) else { fatalError("bad test address \(text)") }
        return address
    }

    func maildir(_ user: String, domain: String) -> Maildir { Maildir(path: "\(root)/mail/\(domain)/\(user)") }

    /// Delivers `message` in chunks and commits.
    func deliver(_ message: [UInt8], to recipients: [String], from sender: String? = "sender@example.com", chunk: Int = 7)
        throws -> DeliveryResult
    {
        let tx = try agent.beginTransaction(
            reversePath: sender.map(address), recipients: recipients.map(address), trace: trace())
        var index = 0
        while index < message.count {
            let end = min(message.count, index + chunk)
            do { try tx.append(Array(message[index..<end])) } catch { break }
            index = end
        }
        return tx.commit()
    }

    /// The single message file in a Maildir's new/, with its contents.
    func storedMessages(_ maildir: Maildir) -> [(name: String, bytes: [UInt8])] {
        files(in: maildir.newPath).map { ($0, contents(of: maildir.newPath + "/" + $0)) }
    }
}

extension DeliveryFixture {
    /// An empty directory beside the fixture's mail root (outside it), with `tmp/`, `new/` and `cur/` when asked.
    func makeOutside(withMaildir: Bool = false) throws -> String {
        let outside = root + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        if withMaildir {
            for sub in ["tmp", "new", "cur"] {
                try FileManager.default.createDirectory(atPath: outside + "/" + sub, withIntermediateDirectories: true)
            }
        }
        return outside
    }
}

/// Moves `path` to `<path>.real` and leaves a symbolic link to `target` in its place.
func swapForLink(_ path: String, to target: String) throws {
    try FileManager.default.moveItem(atPath: path, toPath: path + ".real")
    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
}
