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
