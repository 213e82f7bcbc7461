import Foundation
import Synchronization
import HerdAPI
import Testing
@testable import HerdNode

/// A pod's resolv.conf by dnsPolicy and dnsConfig, as the kubelet's `GetPodDNS` makes it.
@Suite struct PodDNSConfigTests {
    let host = "# the node's\nnameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch corp.example. example.com . corp.example\noptions ndots:1 timeout:2 ndots:3\n"

    func pod(_ policy: String? = nil, hostNetwork: Bool = false, config: PodDNSConfig? = nil) -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: "p", namespace: "team"))
        pod.spec = PodSpec()
        pod.spec?.dnsPolicy = policy
        pod.spec?.hostNetwork = hostNetwork
        pod.spec?.dnsConfig = config
        return pod
    }

    func conf(_ pod: Pod, clusterDNS: [String] = ["10.42.1.1"]) -> String? {
        ContainerEnvironment.resolvConf(pod: pod, clusterDNS: clusterDNS, clusterDomain: "cluster.local", hostResolvConf: host)
    }

    @Test func clusterFirstGetsTheClusterDNSAndTheNamespaceSearchPath() {
        let expected = "search team.svc.cluster.local svc.cluster.local cluster.local corp.example example.com\n"
            + "nameserver 10.42.1.1\noptions ndots:5\n"
        #expect(conf(pod()) == expected, "ClusterFirst is the default")
        #expect(conf(pod("ClusterFirst")) == expected)
        #expect(conf(pod("ClusterFirstWithHostNet", hostNetwork: true)) == expected)
    }

    @Test func hostNetworkDefaultAndNoClusterDNSGetTheNodes() {
        let node = "search corp.example example.com\nnameserver 192.0.2.1\nnameserver 192.0.2.2\noptions timeout:2 ndots:3\n"
        #expect(conf(pod("ClusterFirst", hostNetwork: true)) == node, "a ClusterFirst hostNetwork pod falls back to Default")
        #expect(conf(pod("Default")) == node)
        #expect(conf(pod("ClusterFirst"), clusterDNS: []) == node, "no cluster DNS: upstream falls back to Default")
    }

    @Test func noneTakesOnlyDNSConfig() {
        let config = PodDNSConfig(nameservers: ["192.0.2.53"], searches: ["svc.example"],
                                  options: [PodDNSConfigOption(name: "edns0"), PodDNSConfigOption(name: "ndots", value: "2")])
        #expect(conf(pod("None", config: config)) == "search svc.example\nnameserver 192.0.2.53\noptions edns0 ndots:2\n")
    }

    @Test func dnsConfigIsMergedIntoThePolicysSettings() {
        let config = PodDNSConfig(nameservers: ["10.42.1.1", "192.0.2.53", "192.0.2.54", "192.0.2.55"],
                                  searches: ["extra.example", "cluster.local"],
                                  options: [PodDNSConfigOption(name: "ndots", value: "2"), PodDNSConfigOption(name: "single-request")])
        let text = conf(pod("ClusterFirst", config: config))
        #expect(text == "search team.svc.cluster.local svc.cluster.local cluster.local corp.example example.com extra.example\n"
            + "nameserver 10.42.1.1\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions ndots:2 single-request\n",
            "duplicates once, at most three nameservers, a pod's option overrides the policy's")
    }
}

/// The agent asks for the node's DNS at each pod start: the address is known only after registration.
@Suite(.serialized) struct AgentClusterDNSTests {
    func sandboxResolvConf(_ c: AgentCluster, pod: String) async throws -> String? {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let sandbox = try await c.runtime.listSandboxes().first(where: { $0.config.name == pod }) { return sandbox.config.resolvConf }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("no sandbox for \(pod)")
        return nil
    }

    @Test func clusterFirstPodsGetTheNodesDNSOnceItServes() async throws {
        let serving = Mutex<[String]>([])
        try await AgentCluster.with(configure: { config in
            config.clusterDNSProvider = { serving.withLock { $0 } }
        }) { c in
            let main = Container(name: "main", image: "busybox", command: ["sleep", "1000"])
            try await c.create(testPod("before", containers: [main]))
            let before = try await sandboxResolvConf(c, pod: "before")
            #expect(before?.contains("svc.cluster.local") == false, "no cluster DNS yet: the node's resolv.conf: \(before ?? "nil")")
            serving.withLock { $0 = ["10.42.1.1"] }
            try await c.create(testPod("after", containers: [main]))
            let after = try await sandboxResolvConf(c, pod: "after")
            #expect(after?.hasPrefix("search default.svc.cluster.local svc.cluster.local cluster.local") == true, "\(after ?? "nil")")
            #expect(after?.contains("nameserver 10.42.1.1\noptions ndots:5\n") == true, "\(after ?? "nil")")
        }
    }

    @Test func configuredClusterDNSWins() async throws {
        try await AgentCluster.with(configure: { config in
            config.clusterDNS = ["10.43.0.10"]
            config.clusterDNSProvider = { ["10.42.1.1"] }
        }) { c in
            try await c.create(testPod("p", containers: [Container(name: "main", image: "busybox", command: ["sleep", "1000"])]))
            let conf = try await sandboxResolvConf(c, pod: "p")
            #expect(conf?.contains("nameserver 10.43.0.10\n") == true && conf?.contains("10.42.1.1") == false, "\(conf ?? "nil")")
        }
    }
}
