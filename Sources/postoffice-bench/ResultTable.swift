// ResultTable: turns the JSON lines the load scripts wrote into the summary tables — medians per load and
// server, CPU per message, peak RSS, latency percentiles, and PostOffice's ratio to Postfix and Dovecot.

import Foundation

/// The markdown summary of one `compare` run.
struct ResultTable {
    let resultsDirectory: String
    let latencies: [LatencyRow]

    private typealias Row = [String: Any]

    private func rows(_ file: String) -> [Row] {
        guard let text = try? String(contentsOfFile: resultsDirectory + "/" + file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? Row
        }
    }

    private static func number(_ row: Row, _ key: String) -> Double? {
        (row[key] as? NSNumber)?.doubleValue
    }

    private static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private static func cell(_ value: Double?, decimals: Int = -1) -> String {
        guard let value, value.isFinite else { return "–" }
        return decimals < 0 ? Formatting.rate(value) : Formatting.fixed(value, decimals: decimals)
    }

    func render() -> String {
        var out: [String] = []
        out += smtpTable()
        out += roundsTable()
        out += latencyTable()
        out += pop3Table()
        out += baselineTable()
        out += fsyncTable()
        return out.joined(separator: "\n") + "\n"
    }

    /// One line per (load, server): medians over the rounds.
    private func smtpTable() -> [String] {
        let all = rows("smtp.jsonl")
        guard !all.isEmpty else { return [] }
        let hasFloor = all.contains { ($0["label"] as? String) == "floor" }
        var out = ["## SMTP delivery (smtp_load.py: smtp-source → server → file in Maildir new/)", "",
                   "| load | server | runs | msg/s | MB/s | CPU ms/msg | peak RSS MB | msg/s vs Postfix | CPU vs Postfix |"
                   + (hasFloor ? " msg/s vs floor | CPU vs floor |" : ""),
                   "|---|---|---:|---:|---:|---:|---:|---:|---:|" + (hasFloor ? "---:|---:|" : "")]
        var keys: [String] = []
        var groups: [String: [Row]] = [:]
        for row in all {
            let size = Int(Self.number(row, "size") ?? 0)
            let sessions = Int(Self.number(row, "sessions") ?? 0)
            let recipients = Int(Self.number(row, "rcpts") ?? 1)
            var load = "\(size >= 1024 ? "\(size / 1024) KB" : "\(size) B") × \(sessions) sessions"
            if recipients > 1 { load += " × \(recipients) rcpts" }
            let key = load + "\t" + ((row["label"] as? String) ?? "?")
            if groups[key] == nil { keys.append(key) }
            groups[key, default: []].append(row)
        }
        func stats(_ rows: [Row]) -> (rate: Double?, mb: Double?, cpu: Double?, rss: Double?, ok: Int) {
            let ok = rows.filter { ($0["status"] as? String) == "ok" }
            let rate = Self.median(ok.compactMap { Self.number($0, "msgs_per_s") })
            let mb = Self.median(ok.compactMap { Self.number($0, "mb_per_s") })
            let cpu = Self.median(ok.compactMap { row in
                Self.number(row, "server_cpu_s").flatMap { cpu in Self.number(row, "expected").map { cpu * 1000 / max($0, 1) } }
            })
            let rss = ok.compactMap { Self.number($0, "server_peak_rss_mb") }.max()
            return (rate, mb, cpu, rss, ok.count)
        }
        for key in keys {
            let parts = key.split(separator: "\t").map(String.init)
            let mine = stats(groups[key] ?? [])
            let postfix = stats(groups[parts[0] + "\tpostfix"] ?? [])
            var rateRatio = "–", cpuRatio = "–"
            if parts[1] != "postfix", let a = mine.rate, let b = postfix.rate, b > 0 { rateRatio = Formatting.fixed(a / b, decimals: 2) + "×" }
            if parts[1] != "postfix", let a = mine.cpu, let b = postfix.cpu, b > 0 { cpuRatio = Formatting.fixed(a / b, decimals: 2) + "×" }
            var floorColumns = ""
            if hasFloor {
                let floor = stats(groups[parts[0] + "\tfloor"] ?? [])
                var rate = "–", cpu = "–"
                if parts[1] != "floor", let a = mine.rate, let b = floor.rate, b > 0 { rate = Formatting.fixed(a / b, decimals: 2) + "×" }
                if parts[1] != "floor", let a = mine.cpu, let b = floor.cpu, b > 0 { cpu = Formatting.fixed(a / b, decimals: 2) + "×" }
                floorColumns = " \(rate) | \(cpu) |"
            }
            out.append("| \(parts[0]) | \(parts[1]) | \(mine.ok)/\(groups[key]?.count ?? 0) | \(Self.cell(mine.rate)) | "
                       + "\(Self.cell(mine.mb, decimals: 2)) | \(Self.cell(mine.cpu, decimals: 2)) | \(Self.cell(mine.rss, decimals: 0)) | "
                       + "\(rateRatio) | \(cpuRatio) |" + floorColumns)
        }
        out += ["", "msg/s counts deliveries (messages × recipients) until every file is in new/; CPU is the server's "
                + "process tree (Postfix: all its daemons); RSS is the peak sum over that tree. Medians over the rounds.", ""]
        return out
    }

    /// Every round, not just the median: msg/s and CPU ms/msg per round for each server, and PostOffice's
    /// ratio to Postfix in each round (rounds paired in order) with its minimum.
    private func roundsTable() -> [String] {
        let all = rows("smtp.jsonl")
        guard all.contains(where: { ($0["label"] as? String) == "postoffice" }) else { return [] }
        func load(_ row: Row) -> String {
            let size = Int(Self.number(row, "size") ?? 0)
            var text = "\(size >= 1024 ? "\(size / 1024) KB" : "\(size) B") × \(Int(Self.number(row, "sessions") ?? 0)) sessions"
            let recipients = Int(Self.number(row, "rcpts") ?? 1)
            if recipients > 1 { text += " × \(recipients) rcpts" }
            return text
        }
        func rate(_ row: Row) -> Double? { (row["status"] as? String) == "ok" ? Self.number(row, "msgs_per_s") : nil }
        func cpu(_ row: Row) -> Double? {
            guard (row["status"] as? String) == "ok", let seconds = Self.number(row, "server_cpu_s"),
                  let count = Self.number(row, "expected") else { return nil }
            return seconds * 1000 / max(count, 1)
        }
        var keys: [String] = []
        var groups: [String: [Row]] = [:]
        var labels: [String] = []
        for row in all {
            let label = (row["label"] as? String) ?? "?"
            if !labels.contains(label) { labels.append(label) }
            let key = load(row)
            if !keys.contains(key) { keys.append(key) }
            groups[key + "\t" + label, default: []].append(row)
        }
        var out = ["## Each round (msg/s, CPU ms/msg in brackets)", "",
                   "| load | " + labels.joined(separator: " | ") + " | postoffice / postfix per round | lowest |",
                   "|---|" + labels.map { _ in "---|" }.joined() + "---|---:|"]
        for key in keys {
            var cells: [String] = []
            for label in labels {
                cells.append((groups[key + "\t" + label] ?? []).map { "\(Self.cell(rate($0))) (\(Self.cell(cpu($0), decimals: 2)))" }
                    .joined(separator: ", "))
            }
            let ratios = zip(groups[key + "\tpostoffice"] ?? [], groups[key + "\tpostfix"] ?? []).compactMap { a, b -> Double? in
                guard let x = rate(a), let y = rate(b), y > 0 else { return nil }
                return x / y
            }
            out.append("| \(key) | " + cells.joined(separator: " | ") + " | "
                       + ratios.map { Formatting.fixed($0, decimals: 2) + "×" }.joined(separator: ", ") + " | "
                       + (ratios.min().map { Formatting.fixed($0, decimals: 2) + "×" } ?? "–") + " |")
        }
        out.append("")
        return out
    }

    private func latencyTable() -> [String] {
        guard !latencies.isEmpty else { return [] }
        var out = ["## Commit latency (postoffice-bench latency: 1 KB, 50 sessions, final \".\" → 250)", "",
                   "| server | runs | msg/s | p50 ms | p99 ms | failures |", "|---|---:|---:|---:|---:|---:|"]
        var labels: [String] = []
        for row in latencies where !labels.contains(row.label) { labels.append(row.label) }
        for label in labels {
            let runs = latencies.filter { $0.label == label }.map(\.result)
            out.append("| \(label) | \(runs.count) | \(Self.cell(Self.median(runs.map(\.messagesPerSecond)))) | "
                       + "\(Self.cell(Self.median(runs.map { $0.percentile(50) * 1000 }), decimals: 2)) | "
                       + "\(Self.cell(Self.median(runs.map { $0.percentile(99) * 1000 }), decimals: 2)) | "
                       + "\(runs.map(\.failures).reduce(0, +)) |")
        }
        out += ["", "Postfix answers 250 once the message is in its queue (fsync'd), before the Maildir delivery; "
                + "PostOffice and aiosmtpd answer after the Maildir file and directory are fsync'd.", ""]
        return out
    }

    private func pop3Table() -> [String] {
        let all = rows("pop3.jsonl")
        guard !all.isEmpty else { return [] }
        var out = ["## POP3 RETR (pop3_load.py: seeded 10 KB messages, warm, no DELE)", "",
                   "| clients | server | runs | msg/s | MB/s | CPU ms/msg | peak RSS MB | msg/s vs Dovecot | CPU/msg vs Dovecot |",
                   "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        var keys: [String] = []
        var groups: [String: [Row]] = [:]
        for row in all {
            let key = "\(Int(Self.number(row, "clients") ?? 0))\t\((row["label"] as? String) ?? "?")"
            if groups[key] == nil { keys.append(key) }
            groups[key, default: []].append(row)
        }
        func cpuPerMessage(_ row: Row) -> Double? {
            Self.number(row, "server_cpu_s").flatMap { cpu in Self.number(row, "msgs").map { cpu * 1000 / max($0, 1) } }
        }
        func stats(_ rows: [Row]) -> (rate: Double?, mb: Double?, cpu: Double?, rss: Double?, ok: Int) {
            let ok = rows.filter { (($0["errors"] as? [Any]) ?? []).isEmpty }
            return (Self.median(ok.compactMap { Self.number($0, "msgs_per_s") }),
                    Self.median(ok.compactMap { Self.number($0, "mb_per_s") }),
                    Self.median(ok.compactMap(cpuPerMessage)),
                    ok.compactMap { Self.number($0, "server_peak_rss_mb") }.max(), ok.count)
        }
        for key in keys {
            let parts = key.split(separator: "\t").map(String.init)
            let mine = stats(groups[key] ?? [])
            let dovecot = stats(groups[parts[0] + "\tdovecot"] ?? [])
            var ratio = "–"
            var cpuRatio = "–"
            if parts[1] != "dovecot", let a = mine.rate, let b = dovecot.rate, b > 0 { ratio = Formatting.fixed(a / b, decimals: 2) + "×" }
            if parts[1] != "dovecot", let a = mine.cpu, let b = dovecot.cpu, b > 0 { cpuRatio = Formatting.fixed(a / b, decimals: 2) + "×" }
            out.append("| \(parts[0]) | \(parts[1]) | \(mine.ok)/\(groups[key]?.count ?? 0) | \(Self.cell(mine.rate)) | "
                       + "\(Self.cell(mine.mb, decimals: 1)) | \(Self.cell(mine.cpu, decimals: 4)) | \(Self.cell(mine.rss, decimals: 0)) | \(ratio) | \(cpuRatio) |")
        }
        out.append("")
        // Round by round against Dovecot's run of the same round (the n-th run of each is the n-th round), since
        // the machine's load moves both between rounds more than a change moves either.
        var perRound: [String] = []
        for key in keys {
            let parts = key.split(separator: "\t").map(String.init)
            guard parts[1] != "dovecot", let mine = groups[key], let dovecot = groups[parts[0] + "\tdovecot"] else { continue }
            let pairs = zip(mine, dovecot).map { a, b -> String in
                guard let ra = Self.number(a, "msgs_per_s"), let rb = Self.number(b, "msgs_per_s"), rb > 0,
                      let ca = cpuPerMessage(a), let cb = cpuPerMessage(b), cb > 0 else { return "–" }
                return Formatting.fixed(ra / rb, decimals: 2) + " / " + Formatting.fixed(ca / cb, decimals: 2)
            }
            perRound.append("| \(parts[0]) | \(parts[1]) | \(pairs.joined(separator: ", ")) |")
        }
        if !perRound.isEmpty {
            out += ["Per round against Dovecot's run of the same round, msg/s ratio / CPU-per-message ratio:", "",
                    "| clients | server | rounds |", "|---:|---|---|"] + perRound + [""]
        }
        return out
    }

    /// With `--baseline`: each load's msg/s per round for both builds, and the ratios postoffice / baseline
    /// (the median of the per-round ratios, rounds paired in order, and the ratio of the medians).
    private func baselineTable() -> [String] {
        let smtp = rows("smtp.jsonl"), pop3 = rows("pop3.jsonl")
        guard smtp.contains(where: { ($0["label"] as? String) == "baseline" })
                || pop3.contains(where: { ($0["label"] as? String) == "baseline" }) else { return [] }
        var out = ["## This build (postoffice) vs the baseline build, same loads, same run", "",
                   "| load | postoffice msg/s per round | baseline msg/s per round | median of per-round ratios | ratio of medians | CPU ms/msg postoffice / baseline |",
                   "|---|---|---|---:|---:|---:|"]
        func load(_ row: Row, pop3: Bool) -> String {
            if pop3 { return "POP3 RETR 10 KB × \(Int(Self.number(row, "clients") ?? 0)) clients" }
            let size = Int(Self.number(row, "size") ?? 0)
            var text = "SMTP \(size >= 1024 ? "\(size / 1024) KB" : "\(size) B") × \(Int(Self.number(row, "sessions") ?? 0)) sessions"
            let recipients = Int(Self.number(row, "rcpts") ?? 1)
            if recipients > 1 { text += " × \(recipients) rcpts" }
            return text
        }
        func add(_ all: [Row], pop3: Bool) {
            var keys: [String] = []
            var groups: [String: [Row]] = [:]
            for row in all {
                guard let label = row["label"] as? String, label == "postoffice" || label == "baseline" else { continue }
                let key = load(row, pop3: pop3)
                if !keys.contains(key) { keys.append(key) }
                groups[key + "\t" + label, default: []].append(row)
            }
            func ok(_ row: Row) -> Bool {
                pop3 ? ((row["errors"] as? [Any]) ?? []).isEmpty : (row["status"] as? String) == "ok"
            }
            func rate(_ row: Row) -> Double? { ok(row) ? Self.number(row, "msgs_per_s") : nil }
            func cpu(_ row: Row) -> Double? {
                guard ok(row), let seconds = Self.number(row, "server_cpu_s"),
                      let count = Self.number(row, pop3 ? "msgs" : "expected") else { return nil }
                return seconds * 1000 / max(count, 1)
            }
            for key in keys {
                let mine = groups[key + "\tpostoffice"] ?? [], theirs = groups[key + "\tbaseline"] ?? []
                let perRound = zip(mine, theirs).compactMap { a, b -> Double? in
                    guard let x = rate(a), let y = rate(b), y > 0 else { return nil }
                    return x / y
                }
                func list(_ rows: [Row]) -> String { rows.map { Self.cell(rate($0)) }.joined(separator: ", ") }
                let a = Self.median(mine.compactMap(rate)), b = Self.median(theirs.compactMap(rate))
                var ofMedians: Double?
                if let a, let b, b > 0 { ofMedians = a / b }
                let cpuMine = Self.median(mine.compactMap(cpu)), cpuTheirs = Self.median(theirs.compactMap(cpu))
                out.append("| \(key) | \(list(mine)) | \(list(theirs)) | \(Self.cell(Self.median(perRound), decimals: 3)) | "
                           + "\(Self.cell(ofMedians, decimals: 3)) | \(Self.cell(cpuMine, decimals: 3)) / \(Self.cell(cpuTheirs, decimals: 3)) |")
            }
        }
        add(smtp, pop3: false)
        add(pop3, pop3: true)
        out += ["", "Rounds are paired in order; which build runs first alternates by round. A ratio below 1 means this "
                + "build is slower.", ""]
        return out
    }

    private func fsyncTable() -> [String] {
        let all = rows("fsync.jsonl")
        guard !all.isEmpty else { return [] }
        var out = ["## Disk ceiling (fsync_limit.py, 1 KB: create + write + fsync + rename [+ fsync(dir)])", "",
                   "| mode | threads | cycles/s (median) | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
        for row in all {
            out.append("| \((row["mode"] as? String) ?? "?") | \(Int(Self.number(row, "threads") ?? 0)) | "
                       + "\(Self.cell(Self.number(row, "median"))) | \(Self.cell(Self.number(row, "p50_ms"), decimals: 2)) | "
                       + "\(Self.cell(Self.number(row, "p99_ms"), decimals: 2)) |")
        }
        out.append("")
        return out
    }
}
