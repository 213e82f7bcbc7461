#ifndef CHERDNETLINK_H
#define CHERDNETLINK_H

#include <stddef.h>

/// Pod network set-up without `ip` processes: rtnetlink over AF_NETLINK sockets, and network namespaces made
/// and entered with unshare/setns on a short-lived thread of their own (never the caller's thread, so a
/// thread of Swift's pool never changes namespace). Every function returns 0 on success or a negative errno,
/// with a message in `err` (at most `errlen` bytes, NUL-terminated). They block for the time of a few system
/// calls (creating a veth takes the kernel's rtnl lock): call them from a dedicated thread.

/// Like `ip netns add NAME`: a new network namespace bound to `/var/run/netns/NAME` (the directory made a
/// shared mount point first, as iproute2 does, so the binding shows in other mount namespaces). With
/// `loopback_up` its `lo` is brought up. -EEXIST when the name is taken.
int herd_netns_add(const char *name, int loopback_up, char *err, size_t errlen);

/// Like `ip netns del NAME`: unmounts (lazily) and removes `/var/run/netns/NAME`; the namespace goes away
/// with its last user. -ENOENT when there is no such name.
int herd_netns_delete(const char *name, char *err, size_t errlen);

/// Like `ip link del dev NAME` in the caller's network namespace (a veth takes its peer with it). -ENODEV
/// when there is no such link.
int herd_link_delete(const char *ifname, char *err, size_t errlen);

/// A pod's link, like `ip link add name HOST [mtu M] master BRIDGE up type veth peer name PEER netns NS`,
/// then in the namespace: `ip link set lo up; ip addr replace ADDR/PREFIX dev PEER; ip link set PEER up;
/// ip route replace default via GATEWAY dev PEER`. `mtu` <= 0 leaves the default; `bridge` NULL or empty
/// leaves the host end without a master; `gateway` NULL or empty adds no route. Addresses are IPv4 dotted
/// quads. Nothing is undone on failure (the caller deletes the host end, which takes the peer with it).
int herd_pod_veth_attach(const char *netns_path, const char *host_ifname, const char *peer_ifname,
                         const char *bridge, int mtu, const char *address, int prefix_length,
                         const char *gateway, char *err, size_t errlen);

#endif
