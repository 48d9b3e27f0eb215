// CTestScratch: before any test runs, the test process makes its own directory under $TMPDIR (or /tmp) and
// points TMPDIR at it; at exit the directory and everything in it are removed. The suites make some 1,200
// temporary directories a run (Maildirs, queues, data directories); without this each `swift test` left them
// in /tmp. Set POSTOFFICE_TEST_KEEP_TMP=1 to keep them for a post-mortem (TMPDIR is then left alone).
#define _XOPEN_SOURCE 700
#include "CTestScratch.h"
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[256];
static pid_t owner;
static int unreadable;

const char *postoffice_test_scratch_directory(void) { return scratch; }

/// Pre-order: lets the owner into every directory a test made unreadable or unwritable.
static int open_up(const char *path, const struct stat *status, int type, struct FTW *walk) {
    (void)status; (void)walk;
    if (type == FTW_D || type == FTW_DNR) chmod(path, 0700);
    if (type == FTW_DNR) unreadable = 1;
    return 0;
}

/// Post-order: removes files, symbolic links (never followed) and then their directories.
static int remove_entry(const char *path, const struct stat *status, int type, struct FTW *walk) {
    (void)status; (void)type; (void)walk;
    remove(path);
    return 0;
}

static void remove_scratch(void) {
    // A child that forked without exec and then exited must not remove its parent's directory.
    if (scratch[0] == 0 || getpid() != owner) return;
    for (int pass = 0; pass < 8; pass++) {
        unreadable = 0;
        nftw(scratch, open_up, 16, FTW_PHYS | FTW_MOUNT);
        if (!unreadable) break;
    }
    nftw(scratch, remove_entry, 16, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
}

__attribute__((constructor)) static void make_scratch(void) {
    const char *keep = getenv("POSTOFFICE_TEST_KEEP_TMP");
    if (keep != NULL && keep[0] != 0) return;
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == 0) base = "/tmp";
    // Short: Unix socket paths made below it must stay under 108 bytes.
    int length = snprintf(scratch, sizeof scratch, "%s/pot.XXXXXX", base);
    if (length < 0 || (size_t)length >= sizeof scratch || mkdtemp(scratch) == NULL) {
        scratch[0] = 0;
        return;
    }
    // As /tmp itself: the tools the tests start as other users (Dovecot as nobody, Postfix's daemons) must
    // reach the directories below it and may make their own temporary files in it.
    chmod(scratch, 01777);
    owner = getpid();
    setenv("TMPDIR", scratch, 1);
    atexit(remove_scratch);
}
