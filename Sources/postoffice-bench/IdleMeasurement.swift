// IdleMeasurement: what one round of `postoffice-bench idle` measured — the server's memory, threads and
// descriptors before, with the idle connections held, at peak and after closing them, and the active
// client's latency without and with them — and the Markdown table of rounds with a median row per count.

/// One round's figures. Memory in KiB, as /proc reports it; latencies in seconds.
struct IdleMeasurement {
    var connections: Int
    var round: Int
    var open: IdleConnectionPool.OpenReport
    /// Idle connections still open after the loaded latency run, and how many the server closed or spoke on.
    var held = 0
    var dropped = 0
    var firstDropReason: String?
    var before = ProcessStatus()
    /// Right after the last connection went idle (for the CPU time of opening and of holding).
    var opened = ProcessStatus()
    var idle = ProcessStatus()
    var afterClose = ProcessStatus()
    /// VmHWM at the end of the round, after every batch (a fresh server each round, so this round's peak).
    var peakResidentKilobytes = 0
    var peaks = ProcessSampler.Peaks()
    var control: LatencyClient.Result?
    var loaded: LatencyClient.Result?

    /// Growth of anonymous memory per held connection, in KiB.
    var anonymousKilobytesPerConnection: Double {
        Double(idle.anonymousKilobytes - before.anonymousKilobytes) / Double(max(held, 1))
    }

    /// Whether the round met the target: every connection held, peak RSS within `limitMegabytes`, loaded
    /// p99 under `p99Milliseconds`, and every message delivered.
    func meets(limitMegabytes: Double, p99Milliseconds: Double) -> Bool {
        guard let loaded else { return false }
        return held == connections && Double(peakResidentKilobytes) / 1024 <= limitMegabytes
            && loaded.percentile(99) * 1000 < p99Milliseconds && loaded.failures == 0
    }

    static let header = """
        | idle conns | round | held | open s | RSS before MB | RSS held MB | RssAnon held MB | peak RSS MB | KiB/conn (anon) \
        | threads before/held/peak | server fds held | CPU ms open / hold | control p50 / p99 ms | with idle p50 / p99 ms \
        | RSS after close MB (last batch) |
        |---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|
        """

    /// Every round's row, then for each connection count the median of its rounds.
    static func table(_ rows: [IdleMeasurement]) -> String {
        var lines = [header]
        for row in rows { lines.append(row.line(label: "\(row.round)")) }
        var counts: [Int] = []
        for row in rows where !counts.contains(row.connections) { counts.append(row.connections) }
        for count in counts {
            let group = rows.filter { $0.connections == count }
            guard group.count > 1 else { continue }
            lines.append(medianLine(group))
        }
        return lines.joined(separator: "\n")
    }

    private func line(label: String) -> String {
        let cells: [String] = [
            Formatting.grouped(connections), label, Formatting.grouped(held) + (dropped > 0 ? " (\(dropped) dropped)" : ""),
            Formatting.fixed(open.seconds, decimals: 1),
            Self.megabytes(before.residentKilobytes), Self.megabytes(idle.residentKilobytes),
            Self.megabytes(idle.anonymousKilobytes), Self.megabytes(peakResidentKilobytes),
            Formatting.fixed(anonymousKilobytesPerConnection, decimals: 1),
            "\(before.threads) / \(idle.threads) / \(peaks.threads)", Formatting.grouped(idle.descriptors),
            "\(opened.cpuMilliseconds - before.cpuMilliseconds) / \(idle.cpuMilliseconds - opened.cpuMilliseconds)",
            Self.latency(control), Self.latency(loaded), Self.megabytes(afterClose.residentKilobytes),
        ]
        return "| " + cells.joined(separator: " | ") + " |"
    }

    private static func medianLine(_ group: [IdleMeasurement]) -> String {
        func median(_ values: [Double]) -> Double {
            let sorted = values.filter { $0.isFinite }.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        func mb(_ pick: (IdleMeasurement) -> Int) -> String {
            Formatting.fixed(median(group.map { Double(pick($0)) }) / 1024, decimals: 1)
        }
        func ms(_ result: (IdleMeasurement) -> LatencyClient.Result?, _ p: Double) -> String {
            Formatting.fixed(median(group.map { (result($0)?.percentile(p) ?? .nan) * 1000 }), decimals: 2)
        }
        func whole(_ pick: (IdleMeasurement) -> Int) -> String {
            Formatting.grouped(Int(median(group.map { Double(pick($0)) }).rounded()))
        }
        let cells: [String] = [
            "**" + Formatting.grouped(group[0].connections) + "**", "**median of \(group.count)**", whole { $0.held },
            Formatting.fixed(median(group.map { $0.open.seconds }), decimals: 1),
            mb { $0.before.residentKilobytes }, mb { $0.idle.residentKilobytes }, mb { $0.idle.anonymousKilobytes },
            "**" + mb { $0.peakResidentKilobytes } + "**",
            Formatting.fixed(median(group.map { $0.anonymousKilobytesPerConnection }), decimals: 1),
            "\(whole { $0.before.threads }) / \(whole { $0.idle.threads }) / \(whole { $0.peaks.threads })",
            whole { $0.idle.descriptors },
            "\(whole { $0.opened.cpuMilliseconds - $0.before.cpuMilliseconds }) / \(whole { $0.idle.cpuMilliseconds - $0.opened.cpuMilliseconds })",
            "\(ms({ $0.control }, 50)) / \(ms({ $0.control }, 99))",
            "\(ms({ $0.loaded }, 50)) / **\(ms({ $0.loaded }, 99))**",
            mb { $0.afterClose.residentKilobytes },
        ]
        return "| " + cells.joined(separator: " | ") + " |"
    }

    private static func megabytes(_ kilobytes: Int) -> String {
        Formatting.fixed(Double(kilobytes) / 1024, decimals: 1)
    }

    private static func latency(_ result: LatencyClient.Result?) -> String {
        guard let result else { return "–" }
        let text = "\(Formatting.fixed(result.percentile(50) * 1000, decimals: 2)) / \(Formatting.fixed(result.percentile(99) * 1000, decimals: 2))"
        return result.failures > 0 ? text + " (\(result.failures) failed)" : text
    }
}
