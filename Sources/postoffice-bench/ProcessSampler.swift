// ProcessSampler: reads a process's /proc status on a background thread every few tens of milliseconds
// and keeps the highest resident set, anonymous memory and thread count seen, so that short peaks (while
// thousands of connections are accepted at once) are not missed between the benchmark's checkpoints.

import Foundation

/// The peaks of a process's memory and threads over an interval.
final class ProcessSampler: @unchecked Sendable {
    /// The highest values seen (each field on its own; they need not come from the same reading).
    struct Peaks {
        var residentKilobytes = 0
        var anonymousKilobytes = 0
        var threads = 0
        var samples = 0
    }

    private let pid: pid_t
    private let intervalMicroseconds: UInt32
    private let lock = NSLock()
    private var peaks = Peaks()
    private var isStopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(pid: pid_t, intervalMilliseconds: Int = 50) {
        self.pid = pid
        intervalMicroseconds = UInt32(intervalMilliseconds * 1000)
    }

    func start() {
        let thread = Thread { [self] in
            while true {
                let stopping = lock.withLock { isStopping }
                if let status = ProcessStatus(pid: pid) {
                    lock.withLock {
                        peaks.residentKilobytes = max(peaks.residentKilobytes, status.residentKilobytes)
                        peaks.anonymousKilobytes = max(peaks.anonymousKilobytes, status.anonymousKilobytes)
                        peaks.threads = max(peaks.threads, status.threads)
                        peaks.samples += 1
                    }
                }
                if stopping { break }
                usleep(intervalMicroseconds)
            }
            finished.signal()
        }
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// Takes one last reading, stops the thread and returns the peaks.
    func stop() -> Peaks {
        lock.withLock { isStopping = true }
        // The thread reads once more after seeing the flag; a few intervals at most.
        _ = finished.wait(timeout: .now() + .seconds(5))
        return lock.withLock { peaks }
    }
}
