// ListeningDescriptor: a listening socket's descriptor on its event loop — watched from start() until cancel(),
// which deregisters and closes it on the loop and waits for that, so no event arrives for a closed (or reused)
// descriptor. Shared by Listener and ControlSocket; what an accept does stays with them.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The registration and closing of one listening descriptor on one loop.
final class ListeningDescriptor: @unchecked Sendable {
    let fd: Int32
    private let loop: EventLoop
    /// Loop thread only (or before `start`).
    private var isRegistered = false
    private var isClosed = false

    /// Takes ownership of `fd`: ``cancel(then:)`` closes it.
    init(_ fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    /// Starts telling `handler` about connections (the loop must be running).
    func start(_ handler: some EventLoopHandler & Sendable) {
        loop.execute { [self] in
            guard !isClosed, !isRegistered else { return }
            isRegistered = loop.register(fd, interest: .readable, handler: handler)
        }
    }

    /// Unwatches the descriptor for `milliseconds`, then watches it again for `handler` (on the loop).
    func pause(milliseconds: Int, _ handler: some EventLoopHandler & Sendable) {
        guard isRegistered, !isClosed else { return }
        isRegistered = false
        loop.deregister(fd)
        loop.schedule(afterMilliseconds: milliseconds) { [self] in
            guard !isClosed, !isRegistered else { return }
            isRegistered = loop.register(fd, interest: .readable, handler: handler)
        }
    }

    /// Stops watching, closes the descriptor and then runs `cleanup` (once, on the loop when it runs);
    /// returns once closed.
    func cancel(then cleanup: @escaping @Sendable () -> Void) {
        let closed = DispatchSemaphore(value: 0)
        let close: @Sendable () -> Void = { [self] in
            if !isClosed {
                isClosed = true
                if isRegistered { loop.deregister(fd) }
                Glibc.close(fd)
                cleanup()
            }
            closed.signal()
        }
        if loop.isCurrent {
            close()
        } else if loop.isRunning {
            loop.execute(close)
            closed.wait()
        } else {
            close()
        }
    }
}
