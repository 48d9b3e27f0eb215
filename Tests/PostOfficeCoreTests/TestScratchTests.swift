// TestScratchTests: the test process works in a temporary directory of its own (CTestScratch), removed at
// exit, so a run of the suites leaves nothing behind in /tmp.

import CTestScratch
import Foundation
import Testing

@Suite struct TestScratchTests {
    @Test func temporaryFilesGoToTheProcessOwnDirectory() throws {
        let scratch = String(cString: postoffice_test_scratch_directory())
        if let keep = ProcessInfo.processInfo.environment["POSTOFFICE_TEST_KEEP_TMP"], !keep.isEmpty {
            #expect(scratch.isEmpty, "POSTOFFICE_TEST_KEEP_TMP leaves TMPDIR alone")
            return
        }
        #expect(scratch.contains("/pot."))
        #expect(ProcessInfo.processInfo.environment["TMPDIR"] == scratch)
        #expect(FileManager.default.temporaryDirectory.standardizedFileURL.path.hasPrefix(scratch))
        var status = stat()
        #expect(lstat(scratch, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR)
    }
}
