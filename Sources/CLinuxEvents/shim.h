// CLinuxEvents: the Linux readiness and wake-up calls (epoll, eventfd) that Glibc's Swift module leaves
// out; PostOffice's EventLoop is built on them.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

/// Names the calling thread (shown by top -H, perf and gdb); prctl is variadic, so Swift cannot call it.
static inline int clinuxevents_name_thread(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}
