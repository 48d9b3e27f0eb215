// RepeatedMeasurement: runs a benchmark body a fixed number of times per run, five runs after a warm-up,
// and reports the median rate. A sink value keeps the optimizer from deleting the measured work.

/// The median of several timed runs of a fixed amount of work.
struct RepeatedMeasurement {
    /// A benchmark's name, as printed.
    let name: String
    /// What is counted: "MB/s", "commands/s", "names/s".
    let unit: String
    /// The work units (bytes in MB, commands, names) one run performs.
    let workPerRun: Double
    /// Timed runs; the median is reported.
    var runs = 5

    /// Rates of each run, in units per second, sorted.
    private(set) var rates: [Double] = []

    init(name: String, unit: String, workPerRun: Double, runs: Int = 5) {
        self.name = name
        self.unit = unit
        self.workPerRun = workPerRun
        self.runs = runs
    }

    /// Runs `body` once to warm up, then `runs` times timed. `body` returns a value folded into `sink`.
    mutating func measure(sink: inout UInt64, _ body: () -> UInt64) {
        sink &+= body()
        rates = []
        for _ in 0..<runs {
            let start = MonotonicClock.now()
            sink &+= body()
            let seconds = MonotonicClock.seconds(since: start)
            rates.append(workPerRun / max(seconds, 1e-9))
        }
        rates.sort()
    }

    var median: Double { rates.isEmpty ? 0 : rates[rates.count / 2] }
    var minimum: Double { rates.first ?? 0 }
    var maximum: Double { rates.last ?? 0 }
}
