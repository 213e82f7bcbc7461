import Foundation
import Testing
@testable import HerdNode

/// Which cgroup layout the runtime sees, from mountinfo text (this machine is v1; v2 and the co-mounted v1
/// layouts are checked from the text they would have).
@Suite struct RuntimeCgroupsTests {
    @Test func separateV1ControllersWithAnEmptyUnifiedHierarchyAreV1() throws {
        let text = """
        30 24 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        32 30 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        34 30 0:30 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
        let c = try Cgroups.detect(mountinfo: text)
        #expect(c.version == .v1)
        #expect(c.directories("herd/n/p/c") == ["/sys/fs/cgroup/cpu/herd/n/p/c", "/sys/fs/cgroup/cpuacct/herd/n/p/c",
                                                "/sys/fs/cgroup/memory/herd/n/p/c", "/sys/fs/cgroup/pids/herd/n/p/c"])
        #expect(c.oomEventsFile("x") == "/sys/fs/cgroup/memory/x/memory.oom_control")
    }

    @Test func coMountedCpuAndCpuacctAreOneDirectory() throws {
        let text = """
        31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        """
        let c = try Cgroups.detect(mountinfo: text)
        #expect(c.version == .v1)
        #expect(c.directories("a") == ["/sys/fs/cgroup/cpu,cpuacct/a", "/sys/fs/cgroup/memory/a"])
        #expect(c.directory("cpuacct", "a") == "/sys/fs/cgroup/cpu,cpuacct/a")
        #expect(c.directory("pids", "a") == nil)
    }

    @Test func unifiedHierarchyIsV2() throws {
        let text = "25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate"
        let c = try Cgroups.detect(mountinfo: text)
        #expect(c.version == .v2)
        #expect(c.directories("herd/n") == ["/sys/fs/cgroup/herd/n"])
        #expect(c.oomEventsFile("herd/n") == "/sys/fs/cgroup/herd/n/memory.events")
    }

    @Test func noHierarchyIsUnsupported() {
        #expect(throws: RuntimeError.self) { try Cgroups.detect(mountinfo: "1 0 8:1 / / rw - ext4 /dev/sda1 rw") }
    }

    @Test func cpuQuotaAndSharesFollowUpstream() {
        #expect(Cgroups.cpuQuota(millis: 200) == 20000)
        #expect(Cgroups.cpuQuota(millis: 1) == 1000)
        #expect(Cgroups.cpuShares(millis: 1000) == 1024)
        #expect(Cgroups.cpuShares(millis: 1) == 2)
    }
}
