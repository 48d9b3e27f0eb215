// CTestScratch: the test process's own temporary directory, removed when the process exits.
#ifndef CTESTSCRATCH_H
#define CTESTSCRATCH_H

/// The directory this process's TMPDIR points at ("" when it could not be made or was not wanted).
const char *postoffice_test_scratch_directory(void);

#endif
