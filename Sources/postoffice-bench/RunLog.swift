// RunLog: prints the harness's progress and keeps a copy in the results directory's run.log.

import Foundation

/// Progress lines, to stdout and to a log file.
final class RunLog {
    private let handle: FileHandle?

    init(path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)  // a failure shows as a nil handle: stdout only
        handle = FileHandle(forWritingAtPath: path)
    }

    func line(_ text: String) {
        print(text)
        fflush(nil)
        handle?.write(Data((text + "\n").utf8))
    }

    /// Several lines at once, each with `prefix`.
    func block(_ text: String, prefix: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            self.line(prefix + line)
        }
    }
}
