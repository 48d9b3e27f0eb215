// RelayTable: the markdown summary of `postoffice-bench relay` — per load and MTA the medians over the
// rounds of msg/s and CPU per message (smtp-source runs), the 250→sink latency (tagged runs), PostOffice's
// ratios to Postfix and whether issue 14's goal is met; then every round on its own.

import Foundation

/// Renders the relay benchmark's runs as tables.
struct RelayTable {
    let runs: [RelayRun]
    let settings: RelaySettings

    private static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private static func cell(_ value: Double?, decimals: Int = -1) -> String {
        guard let value, value.isFinite else { return "–" }
        return decimals < 0 ? Formatting.rate(value) : Formatting.fixed(value, decimals: decimals)
    }

    private struct Stats {
        var rate: Double?
        var cpu: Double?
        var relayP50: Double?
        var relayP99: Double?
        var commitP50: Double?
        var latencyRate: Double?
        var complete = 0
        var total = 0
    }

    private func stats(_ label: String, size: Int, sessions: Int) -> Stats {
        let mine = runs.filter { $0.label == label && $0.size == size && $0.sessions == sessions }
        let throughput = mine.filter { $0.kind == "smtp-source" }
        let latency = mine.filter { $0.kind == "latency" }
        var stats = Stats()
        stats.total = throughput.count
        stats.complete = throughput.filter(\.isComplete).count
        stats.rate = Self.median(throughput.filter(\.isComplete).compactMap(\.messagesPerSecond))
        stats.cpu = Self.median(throughput.compactMap(\.cpuPerMessage))
        stats.relayP50 = Self.median(latency.compactMap { RelayRun.percentile($0.relayLatencies, 50) })
        stats.relayP99 = Self.median(latency.compactMap { RelayRun.percentile($0.relayLatencies, 99) })
        stats.commitP50 = Self.median(latency.compactMap { RelayRun.percentile($0.commitLatencies, 50) })
        stats.latencyRate = Self.median(latency.filter(\.isComplete).compactMap(\.messagesPerSecond))
        return stats
    }

    func render() -> String {
        var loads: [(size: Int, sessions: Int)] = []
        for run in runs where !loads.contains(where: { $0.size == run.size && $0.sessions == run.sessions }) {
            loads.append((run.size, run.sessions))
        }
        var labels: [String] = []
        for run in runs where !labels.contains(run.label) { labels.append(run.label) }
        let hasFloor = labels.contains("floor")
        var out = ["## Relay (smtp-source → MTA → smtp-sink on 127.0.0.2), \(settings.count) messages per load, "
                   + "\(settings.rounds) round\(settings.rounds == 1 ? "" : "s")", "",
                   "| load | MTA | runs | msg/s | CPU ms/msg | msg/s vs Postfix | CPU vs Postfix | "
                   + (hasFloor ? "CPU vs floor | " : "") + "250→sink p50 ms | 250→sink p99 ms "
                   + "| dot→250 p50 ms | tagged-run msg/s | goal |",
                   "|---|---|---:|---:|---:|---:|---:|" + (hasFloor ? "---:|" : "") + "---:|---:|---:|---:|---|"]
        for load in loads {
            let postfix = stats("postfix", size: load.size, sessions: load.sessions)
            let floor = stats("floor", size: load.size, sessions: load.sessions)
            for label in labels {
                let mine = stats(label, size: load.size, sessions: load.sessions)
                var rateRatio: Double?, cpuRatio: Double?, floorRatio: Double?
                if label != "postfix", let a = mine.rate, let b = postfix.rate, b > 0 { rateRatio = a / b }
                if label != "postfix", let a = mine.cpu, let b = postfix.cpu, b > 0 { cpuRatio = a / b }
                if label != "floor", let a = mine.cpu, let b = floor.cpu, b > 0 { floorRatio = a / b }
                var goal = ""
                if label == "postoffice" {
                    var missed: [String] = []
                    if let rateRatio { if rateRatio < 2 { missed.append("msg/s") } } else { missed.append("msg/s?") }
                    if let cpuRatio { if cpuRatio > 0.5 { missed.append("CPU") } } else { missed.append("CPU?") }
                    if let p50 = mine.relayP50 { if p50 >= 50 { missed.append("p50") } } else if settings.measuresLatency { missed.append("p50?") }
                    goal = missed.isEmpty ? "met" : "missed: " + missed.joined(separator: ", ")
                }
                let name = "\(load.size >= 1024 ? "\(load.size / 1024) KB" : "\(load.size) B") × \(load.sessions) sessions"
                out.append("| \(name) | \(label) | \(mine.complete)/\(mine.total) | \(Self.cell(mine.rate)) | \(Self.cell(mine.cpu, decimals: 2)) | "
                           + "\(rateRatio.map { Formatting.fixed($0, decimals: 2) + "×" } ?? "–") | "
                           + "\(cpuRatio.map { Formatting.fixed($0, decimals: 2) + "×" } ?? "–") | "
                           + (hasFloor ? "\(floorRatio.map { Formatting.fixed($0, decimals: 2) + "×" } ?? "–") | " : "")
                           + "\(Self.cell(mine.relayP50, decimals: 1)) | \(Self.cell(mine.relayP99, decimals: 1)) | "
                           + "\(Self.cell(mine.commitP50, decimals: 1)) | \(Self.cell(mine.latencyRate)) | \(goal) |")
            }
        }
        out += ["", "msg/s: smtp-source's start until the sink counted every message. CPU: the MTA's process tree (Postfix: "
                + "master and every daemon) from the start until its queue was empty again, per message. Latency: a second run "
                + "per load with postoffice-bench's own client (same sessions and count), each message tagged; from the "
                + "client reading the MTA's 250 to the sink's dump file time (the message's last byte at the sink; file "
                + "times have the kernel tick's resolution, a few ms). Goal (issue 14): msg/s ≥ 2× Postfix, CPU/msg ≤ 0.5× "
                + "Postfix, p50 250→sink < 50 ms. Medians over the rounds."
                + (hasFloor ? " The floor (issue 20): `floor-server --relay-to`, the message fsync'd into a queue directory (and the "
                   + "directory, in a batch), the 250, then sent from memory over 20 persistent connections and unlinked; "
                   + "issue 20 asks for CPU ≤ 1.5× the floor's." : ""), ""]

        out += ["## Each round (smtp-source msg/s, CPU ms/msg in brackets; tagged run p50/p99 ms)", "",
                "| load | round | " + labels.joined(separator: " | ") + " |", "|---|---:|" + labels.map { _ in "---|" }.joined()]
        let rounds = Set(runs.map(\.round)).sorted()
        for load in loads {
            for round in rounds {
                var cells: [String] = []
                for label in labels {
                    let mine = runs.filter { $0.label == label && $0.size == load.size && $0.sessions == load.sessions && $0.round == round }
                    var parts: [String] = []
                    if let throughput = mine.first(where: { $0.kind == "smtp-source" }) {
                        parts.append(throughput.isComplete
                                     ? "\(Self.cell(throughput.messagesPerSecond)) (\(Self.cell(throughput.cpuPerMessage, decimals: 2)))"
                                     : "failed: \(throughput.error ?? "?")")
                    }
                    if let latency = mine.first(where: { $0.kind == "latency" }) {
                        parts.append("\(Self.cell(RelayRun.percentile(latency.relayLatencies, 50), decimals: 1))/"
                                     + "\(Self.cell(RelayRun.percentile(latency.relayLatencies, 99), decimals: 1))"
                                     + (latency.error.map { " (\($0))" } ?? ""))
                    }
                    cells.append(parts.joined(separator: "; "))
                }
                let name = "\(load.size >= 1024 ? "\(load.size / 1024) KB" : "\(load.size) B") × \(load.sessions) sessions"
                out.append("| \(name) | \(round) | " + cells.joined(separator: " | ") + " |")
            }
        }
        out.append("")
        return out.joined(separator: "\n") + "\n"
    }
}
