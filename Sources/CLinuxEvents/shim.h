// CLinuxEvents: the Linux readiness and wake-up calls (epoll, eventfd) that Glibc's Swift module leaves
// out; PostOffice's EventLoop is built on them.
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
