import Synchronization

/// The port a server listens on, known once it binds (port 0 asks the kernel for one): callers wait for it.
/// 0 means the server stopped without ever listening (the port was taken), so waiters give up instead of
/// hanging; once a real port is known, a later 0 changes nothing.
public final class ListeningPort: Sendable {
    private let state = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    public init() {}

    public func wait() async -> Int {
        await withCheckedContinuation { c in
            let port: Int? = state.withLock { s in
                if let p = s.port { return p }
                s.waiters.append(c)
                return nil
            }
            if let port { c.resume(returning: port) }
        }
    }

    public func set(_ port: Int) {
        let waiters = state.withLock { s -> [CheckedContinuation<Int, Never>] in
            if s.port != nil, port == 0 { return [] }
            s.port = port
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(returning: port) }
    }
}
