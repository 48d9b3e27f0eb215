// CLinuxEvents: the Linux calls Glibc's Swift module leaves out: readiness and wake-up (epoll, eventfd), on which
// PostOffice's EventLoop is built, openat2 for Maildir containment checks in one call, and sync_file_range to
// start a file's writeback early.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

/// Names the calling thread (shown by top -H, perf and gdb); prctl is variadic, so Swift cannot call it.
static inline int clinuxevents_name_thread(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

#include <sys/socket.h>

/// accept4(2) is a GNU extension the Glibc module does not declare; one call instead of accept plus three
/// fcntl calls for the non-blocking and close-on-exec flags.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

static inline int clinuxevents_accept_nonblocking(int sockfd, struct sockaddr *addr, socklen_t *addrlen) {
    return accept4(sockfd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (Linux 5.6+; glibc has no wrapper and syscall is
/// variadic): opens `path` below `dirfd` in one call, and the kernel refuses a symbolic link in any component
/// and any escape from `dirfd` (ELOOP, EXDEV). Delivery uses it to prove a Maildir's containment in one step.
static inline int clinuxevents_open_beneath(int dirfd, const char *path, int flags) {
    struct open_how how = { .flags = (unsigned long long)flags, .mode = 0,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

#include <sys/types.h>

/// sync_file_range(2) is a GNU extension the Glibc module does not declare (glibc's wrapper picks the right
/// system call per architecture). Delivery only starts writeback with it; durability still comes from fsync.
extern int sync_file_range(int fd, __off64_t offset, __off64_t count, unsigned int flags);

/// Starts writeback of all of `fd`'s dirty pages without waiting (SYNC_FILE_RANGE_WRITE), so the device can
/// work on several files at once before each is fsync'd. Returns -1 with errno on failure (advisory only).
static inline int clinuxevents_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, 2u /* SYNC_FILE_RANGE_WRITE */);
}

#include <fcntl.h>

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif

/// O_TMPFILE (an unnamed file in a directory's file system; Linux 3.11+), a macro built from other macros
/// that Swift does not import. Delivery writes a message into one and links it into new/ when durable.
static inline int clinuxevents_open_unnamed(int dirfd, int flags, unsigned int mode) {
    return openat(dirfd, ".", flags | __O_TMPFILE | O_DIRECTORY, mode);
}

#include <sys/vfs.h>

/// The file system type (statfs f_type, e.g. 0xEF53 for ext4) of the open file or directory `fd`; -1 on error.
static inline long long clinuxevents_file_system_type(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    return (long long)info.f_type;
}

/// linkat(fd, "", dirfd, name, AT_EMPTY_PATH): gives the open (unnamed) file `fd` the name `name` in
/// `dirfd`. Needs CAP_DAC_READ_SEARCH (ENOENT without it); callers then link through /proc/self/fd.
static inline int clinuxevents_link_open_file(int fd, int dirfd, const char *name) {
    return linkat(fd, "", dirfd, name, 0x1000 /* AT_EMPTY_PATH */);
}
