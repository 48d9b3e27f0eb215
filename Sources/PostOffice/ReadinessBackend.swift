// ReadinessBackend: what an EventLoop needs from the operating system — watch descriptors for readable or
// writable, wait for readiness with a timeout, and be woken from another thread. Linux has EpollBackend;
// a kqueue backend for the BSDs and macOS would implement the same protocol, and `PlatformReadinessBackend`
// would pick it, with no change to the loop, connections or listeners.

/// Which readiness a registration waits for (backend-neutral).
struct ReadinessInterest: OptionSet, Sendable {
    let rawValue: UInt8
    static let readable = ReadinessInterest(rawValue: 1)
    static let writable = ReadinessInterest(rawValue: 2)
}

/// One readiness report from a wait.
struct ReadinessEvent {
    let descriptor: Int32
    /// Readable, or hung up or in error (a read then reports which).
    let isReadable: Bool
    let isWritable: Bool
}

/// The operating system's readiness notification, as an event loop uses it. Only `wake()` may be called
/// from another thread.
protocol ReadinessBackend: AnyObject {
    /// Starts watching `descriptor`; false when the system refuses (the caller closes it).
    func add(_ descriptor: Int32, interest: ReadinessInterest) -> Bool
    /// Changes what `descriptor` waits for.
    func modify(_ descriptor: Int32, interest: ReadinessInterest)
    /// Stops watching `descriptor` (before it is closed).
    func remove(_ descriptor: Int32)
    /// Makes a wait in progress (or the next one) return at once. Safe from any thread.
    func wake()
    /// Waits up to `timeoutMilliseconds` (-1: no limit) and reports each ready descriptor; wake-ups are
    /// consumed here and not reported. Returns false on a failure the loop cannot continue after.
    func wait(timeoutMilliseconds: Int32, _ report: (ReadinessEvent) -> Void) -> Bool
}

#if os(Linux)
/// The backend for this platform.
typealias PlatformReadinessBackend = EpollBackend
#endif
