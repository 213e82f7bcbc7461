// Pod links over rtnetlink (the C half is Sources/CHerdShim/netlink.c): no `ip` process per pod.
import CHerdShim
import Foundation
import HerdClient

/// Link operations of the pod network without spawning `ip`. Each call runs on a thread of its own: the
/// kernel work takes the rtnl lock and can wait, and entering a pod's namespace must never happen on a
/// thread of Swift's cooperative pool (the C code does that on a further short-lived thread).
public enum Netlink {
    /// Creates the pod's veth pair: `hostName` on the host, attached to `bridge` and up; `peerName` in the
    /// namespace at `networkNamespacePath` with `address/prefixLength`, up, with a default route via
    /// `gateway`, and the namespace's loopback up.
    public static func attachPodVeth(networkNamespacePath: String, hostName: String, peerName: String, bridge: String?,
                                     mtu: Int?, address: String, prefixLength: Int, gateway: String?) async throws {
        let r = await OwnThread.cCall { err, len in
            herd_pod_veth_attach(networkNamespacePath, hostName, peerName, bridge ?? "", Int32(mtu ?? 0), address,
                                 Int32(prefixLength), gateway ?? "", err, len)
        }
        if r.code != 0 { throw NetworkError.failed(r.message) }
    }

    /// Deletes a link by name (a veth takes its peer with it); false when there was none.
    @discardableResult
    public static func deleteLink(_ name: String) async throws -> Bool {
        let r = await OwnThread.cCall { err, len in herd_link_delete(name, err, len) }
        if r.code == -ENODEV { return false }
        if r.code != 0 { throw NetworkError.failed(r.message) }
        return true
    }
}
