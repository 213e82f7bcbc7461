// Pod network set-up over rtnetlink, without `ip` processes (see CHerdNetlink.h). A pod's sandbox used to
// cost three process starts (`ip netns add`, `ip -batch`, `nsenter ip -batch`); here it is a few system calls.
//
// Namespace changes happen on a thread made for the purpose: setns/unshare(CLONE_NEWNET) change only the
// calling thread, and a netlink socket stays in the namespace it was made in after the thread leaves it, so
// the helper thread makes the namespace (or enters it), opens its netlink socket, does its work and exits.

#define _GNU_SOURCE
#include "CHerdNetlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define NETNS_RUN_DIR "/var/run/netns"

static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < errlen && code) snprintf(err + n, errlen - (size_t)n, ": %s", strerror(code));
    }
    return code ? -code : -EIO;
}

// MARK: messages

struct nlreq {
    struct nlmsghdr *h;
    size_t cap;
};

static void *nl_tail(struct nlreq *r) { return (char *)r->h + NLMSG_ALIGN(r->h->nlmsg_len); }

static int nl_put(struct nlreq *r, unsigned short type, const void *data, size_t len) {
    size_t need = NLMSG_ALIGN(r->h->nlmsg_len) + RTA_SPACE(len);
    if (need > r->cap) return -ENOBUFS;
    struct rtattr *a = nl_tail(r);
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len) memcpy(RTA_DATA(a), data, len);
    r->h->nlmsg_len = (uint32_t)need;
    return 0;
}

static int nl_put_str(struct nlreq *r, unsigned short type, const char *s) { return nl_put(r, type, s, strlen(s) + 1); }
static int nl_put_u32(struct nlreq *r, unsigned short type, uint32_t v) { return nl_put(r, type, &v, sizeof v); }

static struct rtattr *nl_nest_begin(struct nlreq *r, unsigned short type) {
    struct rtattr *a = nl_tail(r);
    return nl_put(r, type, NULL, 0) == 0 ? a : NULL;
}

static void nl_nest_end(struct nlreq *r, struct rtattr *a) {
    a->rta_len = (unsigned short)((char *)nl_tail(r) - (char *)a);
}

/// Appends raw bytes (a nested ifinfomsg) inside the current nest.
static int nl_put_raw(struct nlreq *r, const void *data, size_t len) {
    size_t need = NLMSG_ALIGN(r->h->nlmsg_len) + NLMSG_ALIGN(len);
    if (need > r->cap) return -ENOBUFS;
    memset(nl_tail(r), 0, NLMSG_ALIGN(len));
    memcpy(nl_tail(r), data, len);
    r->h->nlmsg_len = (uint32_t)need;
    return 0;
}

static int nl_open(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/// Sends one request with NLM_F_ACK and waits for its acknowledgement; returns 0 or the kernel's -errno.
static int nl_talk(int fd, struct nlmsghdr *h) {
    static __thread uint32_t seq;
    h->nlmsg_seq = ++seq;
    h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t sent;
    do {
        sent = sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return -errno;
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, (unsigned)n); m = NLMSG_NEXT(m, n)) {
            if (m->nlmsg_seq != h->nlmsg_seq) continue;
            if (m->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(m);
                return e->error;  // 0 is the acknowledgement
            }
            if (m->nlmsg_type == NLMSG_DONE) return 0;
        }
    }
}

#define REQ(name, size)                                                        \
    char name##_buf[size] __attribute__((aligned(NLMSG_ALIGNTO)));            \
    memset(name##_buf, 0, sizeof name##_buf);                                  \
    struct nlreq name = {.h = (struct nlmsghdr *)name##_buf, .cap = sizeof name##_buf}

/// `ip link set dev IFNAME up` (by name, in the socket's namespace).
static int nl_link_up(int fd, const char *ifname) {
    REQ(r, 256);
    r.h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r.h->nlmsg_type = RTM_NEWLINK;
    struct ifinfomsg *ifi = NLMSG_DATA(r.h);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    if (nl_put_str(&r, IFLA_IFNAME, ifname)) return -ENOBUFS;
    return nl_talk(fd, r.h);
}

/// The index of a link by name, in the socket's namespace (RTM_GETLINK), or -errno.
static int nl_link_index(int fd, const char *ifname) {
    REQ(r, 256);
    r.h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r.h->nlmsg_type = RTM_GETLINK;
    r.h->nlmsg_flags = NLM_F_REQUEST;
    struct ifinfomsg *ifi = NLMSG_DATA(r.h);
    ifi->ifi_family = AF_UNSPEC;
    uint32_t mask = RTEXT_FILTER_SKIP_STATS;
    if (nl_put_str(&r, IFLA_IFNAME, ifname) || nl_put_u32(&r, IFLA_EXT_MASK, mask)) return -ENOBUFS;
    static __thread uint32_t seq = 1u << 30;
    r.h->nlmsg_seq = ++seq;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, r.h, r.h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
    char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, (unsigned)n); m = NLMSG_NEXT(m, n)) {
            if (m->nlmsg_seq != r.h->nlmsg_seq) continue;
            if (m->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(m);
                return e->error ? e->error : -ENODEV;
            }
            if (m->nlmsg_type == RTM_NEWLINK) return ((struct ifinfomsg *)NLMSG_DATA(m))->ifi_index;
        }
    }
}

// MARK: namespaces

/// Makes /var/run/netns a shared mount point, once per process (as `ip netns add` does each time).
static int ensure_netns_run_dir(char *err, size_t errlen) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int done;
    pthread_mutex_lock(&lock);
    int rc = 0;
    if (!done) {
        if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST) {
            rc = fail(err, errlen, errno, "mkdir %s", NETNS_RUN_DIR);
        } else {
            int bound = 0;
            while (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
                if (errno != EINVAL || bound) {
                    rc = fail(err, errlen, errno, "mount --make-shared %s", NETNS_RUN_DIR);
                    break;
                }
                if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0) {
                    rc = fail(err, errlen, errno, "mount --bind %s", NETNS_RUN_DIR);
                    break;
                }
                bound = 1;
            }
            if (rc == 0) done = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

struct ns_job {
    // in
    const char *path;         // netns_add: the file to bind the new namespace to
    int nsfd;                 // veth: the namespace to enter
    int loopback_up;
    const char *peer, *address, *gateway;
    int prefix_length;
    // out
    int rc;
    char *err;
    size_t errlen;
};

static void *netns_add_thread(void *arg) {
    struct ns_job *j = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        j->rc = fail(j->err, j->errlen, errno, "unshare(CLONE_NEWNET)");
        return NULL;
    }
    char self[64];
    snprintf(self, sizeof self, "/proc/self/task/%d/ns/net", (int)gettid());
    if (mount(self, j->path, "none", MS_BIND, NULL) < 0) {
        j->rc = fail(j->err, j->errlen, errno, "bind %s to %s", self, j->path);
        return NULL;
    }
    if (j->loopback_up) {
        int fd = nl_open();
        int rc = fd < 0 ? fd : nl_link_up(fd, "lo");
        if (fd >= 0) close(fd);
        if (rc < 0) {
            j->rc = fail(j->err, j->errlen, -rc, "set lo up in %s", j->path);
            return NULL;
        }
    }
    j->rc = 0;
    return NULL;
}

/// Runs fn on a new thread and waits for it (the thread's namespace dies with it).
static int run_on_thread(void *(*fn)(void *), struct ns_job *j) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    int e = pthread_create(&t, &attr, fn, j);
    pthread_attr_destroy(&attr);
    if (e) return fail(j->err, j->errlen, e, "pthread_create");
    pthread_join(t, NULL);
    return j->rc;
}

static int valid_name(const char *name) {
    return name && *name && strlen(name) < 200 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

int herd_netns_add(const char *name, int loopback_up, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!valid_name(name)) return fail(err, errlen, EINVAL, "invalid network namespace name \"%s\"", name ? name : "");
    int rc = ensure_netns_run_dir(err, errlen);
    if (rc) return rc;
    char path[256];
    snprintf(path, sizeof path, NETNS_RUN_DIR "/%s", name);
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) return fail(err, errlen, errno, "create %s", path);
    close(fd);
    struct ns_job j = {.path = path, .loopback_up = loopback_up, .rc = -EIO, .err = err, .errlen = errlen};
    rc = run_on_thread(netns_add_thread, &j);
    if (rc) {
        umount2(path, MNT_DETACH);
        unlink(path);
    }
    return rc;
}

int herd_netns_delete(const char *name, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!valid_name(name)) return fail(err, errlen, EINVAL, "invalid network namespace name \"%s\"", name ? name : "");
    char path[256];
    snprintf(path, sizeof path, NETNS_RUN_DIR "/%s", name);
    umount2(path, MNT_DETACH);
    if (unlink(path) < 0) return fail(err, errlen, errno, "remove %s", path);
    return 0;
}

// MARK: links

int herd_link_delete(const char *ifname, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) return fail(err, errlen, EINVAL, "invalid link name");
    int fd = nl_open();
    if (fd < 0) return fail(err, errlen, -fd, "netlink socket");
    REQ(r, 256);
    r.h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r.h->nlmsg_type = RTM_DELLINK;
    ((struct ifinfomsg *)NLMSG_DATA(r.h))->ifi_family = AF_UNSPEC;
    int rc = nl_put_str(&r, IFLA_IFNAME, ifname);
    if (rc == 0) rc = nl_talk(fd, r.h);
    close(fd);
    if (rc) return fail(err, errlen, -rc, "delete link %s", ifname);
    return 0;
}

/// The namespace half of a pod's attach: lo up, the address, the peer up, the default route.
static void *veth_inside_thread(void *arg) {
    struct ns_job *j = arg;
    if (setns(j->nsfd, CLONE_NEWNET) < 0) {
        j->rc = fail(j->err, j->errlen, errno, "setns");
        return NULL;
    }
    int fd = nl_open();
    if (fd < 0) {
        j->rc = fail(j->err, j->errlen, -fd, "netlink socket in the pod namespace");
        return NULL;
    }
    int rc = nl_link_up(fd, "lo");
    if (rc) {
        j->rc = fail(j->err, j->errlen, -rc, "set lo up");
        goto out;
    }
    int index = nl_link_index(fd, j->peer);
    if (index < 0) {
        j->rc = fail(j->err, j->errlen, -index, "find %s", j->peer);
        goto out;
    }
    struct in_addr addr, gw;
    if (inet_pton(AF_INET, j->address, &addr) != 1) {
        j->rc = fail(j->err, j->errlen, EINVAL, "address %s", j->address);
        goto out;
    }
    {
        REQ(r, 256);
        r.h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
        r.h->nlmsg_type = RTM_NEWADDR;
        r.h->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
        struct ifaddrmsg *ifa = NLMSG_DATA(r.h);
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (unsigned char)j->prefix_length;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (unsigned)index;
        if (nl_put(&r, IFA_LOCAL, &addr, 4) || nl_put(&r, IFA_ADDRESS, &addr, 4)) rc = -ENOBUFS;
        else rc = nl_talk(fd, r.h);
        if (rc) {
            j->rc = fail(j->err, j->errlen, -rc, "addr replace %s/%d dev %s", j->address, j->prefix_length, j->peer);
            goto out;
        }
    }
    rc = nl_link_up(fd, j->peer);
    if (rc) {
        j->rc = fail(j->err, j->errlen, -rc, "set %s up", j->peer);
        goto out;
    }
    if (j->gateway && *j->gateway) {
        if (inet_pton(AF_INET, j->gateway, &gw) != 1) {
            j->rc = fail(j->err, j->errlen, EINVAL, "gateway %s", j->gateway);
            goto out;
        }
        REQ(r, 256);
        r.h->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
        r.h->nlmsg_type = RTM_NEWROUTE;
        r.h->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
        struct rtmsg *rt = NLMSG_DATA(r.h);
        rt->rtm_family = AF_INET;
        rt->rtm_table = RT_TABLE_MAIN;
        rt->rtm_protocol = RTPROT_BOOT;
        rt->rtm_scope = RT_SCOPE_UNIVERSE;
        rt->rtm_type = RTN_UNICAST;
        if (nl_put(&r, RTA_GATEWAY, &gw, 4) || nl_put_u32(&r, RTA_OIF, (uint32_t)index)) rc = -ENOBUFS;
        else rc = nl_talk(fd, r.h);
        if (rc) {
            j->rc = fail(j->err, j->errlen, -rc, "route replace default via %s dev %s", j->gateway, j->peer);
            goto out;
        }
    }
    j->rc = 0;
out:
    close(fd);
    return NULL;
}

int herd_pod_veth_attach(const char *netns_path, const char *host_ifname, const char *peer_ifname,
                         const char *bridge, int mtu, const char *address, int prefix_length,
                         const char *gateway, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!host_ifname || !*host_ifname || strlen(host_ifname) >= IFNAMSIZ || !peer_ifname || !*peer_ifname ||
        strlen(peer_ifname) >= IFNAMSIZ)
        return fail(err, errlen, EINVAL, "invalid link name");
    if (!address || prefix_length < 0 || prefix_length > 32) return fail(err, errlen, EINVAL, "invalid address");
    int nsfd = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return fail(err, errlen, errno, "open %s", netns_path);
    int fd = nl_open();
    if (fd < 0) {
        close(nsfd);
        return fail(err, errlen, -fd, "netlink socket");
    }
    int rc = 0;
    uint32_t master = 0;
    if (bridge && *bridge) {
        master = (uint32_t)nl_link_index(fd, bridge);
        if ((int)master < 0) {
            rc = fail(err, errlen, -(int)master, "find bridge %s", bridge);
            goto out;
        }
    }
    {
        REQ(r, 1024);
        r.h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
        r.h->nlmsg_type = RTM_NEWLINK;
        r.h->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
        struct ifinfomsg *ifi = NLMSG_DATA(r.h);
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
        int e = nl_put_str(&r, IFLA_IFNAME, host_ifname);
        if (!e && mtu > 0) e = nl_put_u32(&r, IFLA_MTU, (uint32_t)mtu);
        if (!e && master) e = nl_put_u32(&r, IFLA_MASTER, master);
        struct rtattr *linkinfo = e ? NULL : nl_nest_begin(&r, IFLA_LINKINFO);
        if (!linkinfo) e = -ENOBUFS;
        if (!e) e = nl_put_str(&r, IFLA_INFO_KIND, "veth");
        struct rtattr *data = e ? NULL : nl_nest_begin(&r, IFLA_INFO_DATA);
        struct rtattr *peer = data ? nl_nest_begin(&r, VETH_INFO_PEER) : NULL;
        if (!peer) e = -ENOBUFS;
        if (!e) {
            struct ifinfomsg peer_ifi = {.ifi_family = AF_UNSPEC};
            e = nl_put_raw(&r, &peer_ifi, sizeof peer_ifi);
        }
        if (!e) e = nl_put_str(&r, IFLA_IFNAME, peer_ifname);
        if (!e) e = nl_put_u32(&r, IFLA_NET_NS_FD, (uint32_t)nsfd);
        if (!e && mtu > 0) e = nl_put_u32(&r, IFLA_MTU, (uint32_t)mtu);
        if (!e) {
            nl_nest_end(&r, peer);
            nl_nest_end(&r, data);
            nl_nest_end(&r, linkinfo);
            e = nl_talk(fd, r.h);
        }
        if (e) {
            rc = fail(err, errlen, -e, "link add %s type veth peer name %s netns %s", host_ifname, peer_ifname, netns_path);
            goto out;
        }
    }
    {
        struct ns_job j = {.nsfd = nsfd, .peer = peer_ifname, .address = address, .gateway = gateway,
                           .prefix_length = prefix_length, .rc = -EIO, .err = err, .errlen = errlen};
        rc = run_on_thread(veth_inside_thread, &j);
    }
out:
    close(fd);
    close(nsfd);
    return rc;
}
