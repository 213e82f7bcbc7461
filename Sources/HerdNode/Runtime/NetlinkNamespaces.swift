// Network namespaces for pod sandboxes without `ip netns` processes (the C half is
// Sources/CHerdShim/netlink.c, which makes and enters namespaces on a short-lived thread of its own).
import CHerdShim
import Foundation
import HerdClient

enum NetlinkNamespaces {
    /// Like `ip netns add NAME` (and with `loopbackUp` `ip -n NAME link set lo up`).
    static func add(_ name: String, loopbackUp: Bool) async throws {
        let r = await OwnThread.cCall { err, len in herd_netns_add(name, loopbackUp ? 1 : 0, err, len) }
        if r.code != 0 { throw RuntimeError.failed(r.message) }
    }

    /// Like `ip netns del NAME`; false when there was none.
    @discardableResult
    static func delete(_ name: String) async throws -> Bool {
        let r = await OwnThread.cCall { err, len in herd_netns_delete(name, err, len) }
        if r.code == -ENOENT { return false }
        if r.code != 0 { throw RuntimeError.failed(r.message) }
        return true
    }
}
