// Network namespaces for pod sandboxes without `ip netns` processes (the C half is
// Sources/CHerdShim/netlink.c, which makes and enters namespaces on a short-lived thread of its own).
import CHerdShim
import Foundation

enum NetlinkNamespaces {
    /// Runs a C call that fills an error buffer on a dedicated thread (never a thread of the cooperative pool).
    static func call(_ body: @escaping @Sendable (UnsafeMutablePointer<CChar>, Int) -> Int32) async -> (code: Int32, message: String) {
        await withCheckedContinuation { (continuation: CheckedContinuation<(code: Int32, message: String), Never>) in
            let thread = Thread {
                let size = 512
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
                buffer.initialize(repeating: 0, count: size)
                let code = body(buffer, size)
                let message = String(cString: buffer)
                buffer.deallocate()
                continuation.resume(returning: (code, message))
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
    }

    /// Like `ip netns add NAME` (and with `loopbackUp` `ip -n NAME link set lo up`).
    static func add(_ name: String, loopbackUp: Bool) async throws {
        let r = await call { err, len in herd_netns_add(name, loopbackUp ? 1 : 0, err, len) }
        if r.code != 0 { throw RuntimeError.failed(r.message) }
    }

    /// Like `ip netns del NAME`; false when there was none.
    @discardableResult
    static func delete(_ name: String) async throws -> Bool {
        let r = await call { err, len in herd_netns_delete(name, err, len) }
        if r.code == -ENOENT { return false }
        if r.code != 0 { throw RuntimeError.failed(r.message) }
        return true
    }
}
