// EpollBackend: Linux readiness through epoll (level-triggered) with an eventfd for wake-ups. The loop keeps
// at most one epoll_ctl per change of interest; closing a descriptor removes it from the set without one.

import CLinuxEvents
import Glibc
import PostOfficeCore

/// epoll and an eventfd, owned by one EventLoop.
final class EpollBackend: ReadinessBackend {
    private let epollDescriptor: Int32
    private let wakeDescriptor: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let capacity = 256

    init() throws {
        epollDescriptor = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollDescriptor >= 0 else { throw SystemError("epoll_create1", errno: errno) }
        wakeDescriptor = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard wakeDescriptor >= 0 else {
            let code = errno
            Glibc.close(epollDescriptor)
            throw SystemError("eventfd", errno: code)
        }
        var event = epoll_event()
        event.events = UInt32(EPOLLIN.rawValue)
        event.data.fd = wakeDescriptor
        guard epoll_ctl(epollDescriptor, EPOLL_CTL_ADD, wakeDescriptor, &event) == 0 else {
            let code = errno
            Glibc.close(wakeDescriptor)
            Glibc.close(epollDescriptor)
            throw SystemError("epoll_ctl", errno: code)
        }
        events = .allocate(capacity: capacity)
    }

    deinit {
        events.deallocate()
        Glibc.close(wakeDescriptor)
        Glibc.close(epollDescriptor)
    }

    private static func flags(_ interest: ReadinessInterest) -> UInt32 {
        var flags: UInt32 = 0
        if interest.contains(.readable) { flags |= UInt32(EPOLLIN.rawValue) }
        if interest.contains(.writable) { flags |= UInt32(EPOLLOUT.rawValue) }
        return flags
    }

    func add(_ descriptor: Int32, interest: ReadinessInterest) -> Bool {
        var event = epoll_event()
        event.events = Self.flags(interest)
        event.data.fd = descriptor
        return epoll_ctl(epollDescriptor, EPOLL_CTL_ADD, descriptor, &event) == 0
    }

    func modify(_ descriptor: Int32, interest: ReadinessInterest) {
        var event = epoll_event()
        event.events = Self.flags(interest)
        event.data.fd = descriptor
        _ = epoll_ctl(epollDescriptor, EPOLL_CTL_MOD, descriptor, &event)
    }

    func remove(_ descriptor: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epollDescriptor, EPOLL_CTL_DEL, descriptor, &event)
    }

    func wake() {
        // eventfd_write, not write(2): glibc calls its own write internally, so an LD_PRELOAD fault injector
        // (libfiu's posix/io/rw/write, .ci/reliability) cannot fail it; a lost wake-up would leave the loop
        // asleep with isWakePending set. On a non-blocking eventfd the write itself cannot fail (EAGAIN only
        // at a counter of 2^64-2).
        _ = eventfd_write(wakeDescriptor, 1)
    }

    func wait(timeoutMilliseconds: Int32, _ report: (ReadinessEvent) -> Void) -> Bool {
        let count = epoll_wait(epollDescriptor, events, Int32(capacity), timeoutMilliseconds)
        if count < 0 { return errno == EINTR }
        let readable = UInt32(EPOLLIN.rawValue) | UInt32(EPOLLHUP.rawValue) | UInt32(EPOLLERR.rawValue)
        for index in 0..<Int(count) {
            let event = events[index]
            if event.data.fd == wakeDescriptor {
                var value: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &value) { Glibc.read(wakeDescriptor, $0.baseAddress, 8) }
                continue
            }
            report(ReadinessEvent(
                descriptor: event.data.fd, isReadable: event.events & readable != 0,
                isWritable: event.events & UInt32(EPOLLOUT.rawValue) != 0))
        }
        return true
    }
}
