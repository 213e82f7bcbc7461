import Foundation
import HerdAPI
import HerdClient
@testable import HerdNode
import Logging
import Testing

@Suite("SimulatedNodes")
struct SimulatedNodeTests {
    static let quiet: Logger = {
        var l = Logger(label: "herd.test.simulated")
        l.logLevel = .critical
        return l
    }()

    /// Runs simulated `names` (fast heartbeats) while `body` runs; stops them afterwards, also on failure.
    func withNodes(_ c: LiveCluster, _ names: [String], _ body: (SimulatedNodes) async throws -> Void) async throws {
        let nodes = SimulatedNodes(
            client: c.client,
            configuration: SimulatedNodesConfiguration(nodeNames: names, leaseRenewInterval: .milliseconds(200),
                                                       statusUpdateInterval: .milliseconds(500)),
            logger: Self.quiet)
        let task = Task { try await nodes.run() }
        do {
            try await body(nodes)
        } catch {
            task.cancel()
            _ = await task.result
            throw error
        }
        task.cancel()
        _ = await task.result
    }

    func node(_ c: LiveCluster, _ name: String) async -> Node? {
        try? await c.client.get(Node.self, name: name)
    }

    func lease(_ c: LiveCluster, _ name: String) async -> Lease? {
        try? await c.client.get(Lease.self, namespace: "kube-node-lease", name: name)
    }

    func pod(_ name: String, node: String, restartPolicy: String = "Always", annotations: [String: String]? = nil) -> Pod {
        var meta = ObjectMeta(name: name, namespace: "default")
        meta.annotations = annotations
        var spec = PodSpec(containers: [Container(name: "web", image: "nginx")], restartPolicy: restartPolicy, nodeName: node)
        spec.terminationGracePeriodSeconds = 30
        return Pod(metadata: meta, spec: spec)
    }

    @Test func nodeNames() {
        #expect(SimulatedNodesConfiguration.nodeNames(count: 1, nodeName: "n1", hostname: "h") == ["n1"])
        #expect(SimulatedNodesConfiguration.nodeNames(count: 2, nodeName: "n", hostname: "h") == ["n-0", "n-1"])
        #expect(SimulatedNodesConfiguration.nodeNames(count: 2, nodeName: nil, hostname: "Box_1.example.com") == ["sim-box-1-0", "sim-box-1-1"])
        #expect(SimulatedPodStatus.normalizedImage("nginx") == "docker.io/library/nginx:latest")
        #expect(SimulatedPodStatus.normalizedImage("registry.example.com:5000/team/web:1.2") == "registry.example.com:5000/team/web:1.2")
    }

    @Test func nodesRegisterReadyWithCapacityAndLeases() async throws {
        try await LiveCluster.with { c in
            try await withNodes(c, ["sim-a", "sim-b", "sim-c"]) { nodes in
                #expect(await c.eventually { nodes.registered == 3 })
                var internalIPs = Set<String>()
                for name in ["sim-a", "sim-b", "sim-c"] {
                    let n = try #require(await node(c, name))
                    let status = try #require(n.status)
                    #expect(status.capacity?["cpu"] == Quantity("8"))
                    #expect(status.capacity?["memory"] == Quantity("32Gi"))
                    #expect(status.capacity?["pods"] == Quantity("110"))
                    #expect(status.capacity?["ephemeral-storage"] == Quantity("100Gi"))
                    let allocMemory = try #require(status.allocatable?["memory"])
                    #expect(allocMemory < Quantity("32Gi"))
                    let ready = status.conditions?.first { $0.type == "Ready" }
                    #expect(ready?.status == "True")
                    #expect(ready?.reason == "KubeletReady")
                    #expect(ready?.message == "kubelet is posting ready status")
                    for type in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
                        #expect(status.conditions?.first { $0.type == type }?.status == "False", "\(type)")
                    }
                    #expect(status.nodeInfo?.kubeletVersion == "v1.32.0-herd")
                    #expect(status.nodeInfo?.containerRuntimeVersion == "herd-simulated://1")
                    #expect(status.nodeInfo?.operatingSystem == "linux")
                    #expect(n.metadata.labels?["kubernetes.io/hostname"] == name)
                    #expect(n.metadata.labels?["kubernetes.io/os"] == "linux")
                    #expect(n.address(ofType: "Hostname") == name)
                    internalIPs.insert(try #require(n.address(ofType: "InternalIP")))

                    let l = try #require(await lease(c, name))
                    #expect(l.spec?.holderIdentity == name)
                    #expect(l.spec?.leaseDurationSeconds == 40)
                    #expect(l.metadata.ownerReferences?.first?.uid == n.metadata.uid)
                    #expect(l.metadata.ownerReferences?.first?.kind == "Node")
                }
                #expect(internalIPs.count == 3)
            }
        }
    }

    @Test func leaseIsRenewed() async throws {
        try await LiveCluster.with { c in
            try await withNodes(c, ["sim-lease"]) { nodes in
                #expect(await c.eventually { nodes.registered == 1 })
                let first = try #require(await lease(c, "sim-lease")?.spec?.renewTime)
                #expect(await c.eventually {
                    guard let t = await lease(c, "sim-lease")?.spec?.renewTime else { return false }
                    return t > first
                })
            }
        }
    }

    @Test func boundPodsRunReadyWithDistinctAddresses() async throws {
        try await LiveCluster.with { c in
            try await withNodes(c, ["sim-p0", "sim-p1"]) { nodes in
                #expect(await c.eventually { nodes.registered == 2 })
                for (i, node) in ["sim-p0", "sim-p0", "sim-p1"].enumerated() {
                    _ = try await c.client.create(pod("web-\(i)", node: node))
                }
                var running: [Pod] = []
                #expect(await c.eventually {
                    running = (try? await c.client.list(Pod.self, namespace: "default").items) ?? []
                    return running.count == 3 && running.allSatisfy { p in
                        p.status?.phase == "Running" && p.status?.conditions?.first { $0.type == "Ready" }?.status == "True"
                    }
                })
                let ips = Set(running.compactMap { $0.status?.podIP })
                #expect(ips.count == 3)
                for p in running {
                    let s = try #require(p.status)
                    let n = try #require(await node(c, p.spec?.nodeName ?? ""))
                    #expect(s.hostIP == n.address(ofType: "InternalIP"))
                    #expect(s.podIPs?.first?.ip == s.podIP)
                    #expect(s.startTime != nil)
                    let types = (s.conditions ?? []).filter { $0.status == "True" }.compactMap(\.type)
                    #expect(Set(types) == ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"])
                    let cs = try #require(s.containerStatuses?.first)
                    #expect(cs.ready == true && cs.started == true && cs.restartCount == 0)
                    #expect(cs.state?.running?.startedAt != nil)
                    #expect(cs.image == "docker.io/library/nginx:latest")
                    #expect(cs.containerID?.hasPrefix("herd-simulated://") == true)
                }
            }
        }
    }

    @Test func deletedPodIsRemoved() async throws {
        try await LiveCluster.with { c in
            try await withNodes(c, ["sim-del"]) { nodes in
                #expect(await c.eventually { nodes.registered == 1 })
                _ = try await c.client.create(pod("doomed", node: "sim-del"))
                #expect(await c.eventually {
                    (try? await c.client.get(Pod.self, namespace: "default", name: "doomed"))?.status?.phase == "Running"
                })
                // A running pod with a 30 s grace period only goes away when its node finishes the deletion.
                try await c.client.delete(Pod.self, namespace: "default", name: "doomed")
                #expect(await c.eventually {
                    do {
                        _ = try await c.client.get(Pod.self, namespace: "default", name: "doomed")
                        return false
                    } catch {
                        return (error as? APIError)?.code == 404
                    }
                })
            }
        }
    }

    @Test func exitCodeAnnotationEndsThePod() async throws {
        try await LiveCluster.with { c in
            try await withNodes(c, ["sim-job"]) { nodes in
                #expect(await c.eventually { nodes.registered == 1 })
                _ = try await c.client.create(pod("ok", node: "sim-job", restartPolicy: "Never",
                                                  annotations: [simulatedExitCodeAnnotation: "0"]))
                _ = try await c.client.create(pod("bad", node: "sim-job", restartPolicy: "OnFailure",
                                                  annotations: [simulatedExitCodeAnnotation: "3"]))
                _ = try await c.client.create(pod("always", node: "sim-job", annotations: [simulatedExitCodeAnnotation: "0"]))
                func phase(_ name: String) async -> String? {
                    (try? await c.client.get(Pod.self, namespace: "default", name: name))?.status?.phase
                }
                #expect(await c.eventually { await phase("ok") == "Succeeded" })
                #expect(await c.eventually { await phase("bad") == "Failed" })
                #expect(await c.eventually { await phase("always") == "Running" })
                let bad = try await c.client.get(Pod.self, namespace: "default", name: "bad")
                #expect(bad.status?.containerStatuses?.first?.state?.terminated?.exitCode == 3)
                #expect(bad.status?.containerStatuses?.first?.state?.terminated?.reason == "Error")
                let ok = try await c.client.get(Pod.self, namespace: "default", name: "ok")
                #expect(ok.status?.conditions?.first { $0.type == "Ready" }?.reason == "PodCompleted")
            }
        }
    }

    @Test func stoppingEndsHeartbeatsAndARestartResumesThem() async throws {
        try await LiveCluster.with { c in
            try await withNodes(c, ["sim-stop"]) { nodes in
                #expect(await c.eventually { nodes.registered == 1 })
                #expect(await c.eventually { await lease(c, "sim-stop")?.metadata.resourceVersion != nil })
            }
            // Stopped: give it many renewal intervals; the lease must stay as it was, and the node is not
            // marked NotReady by the agent itself.
            let stopped = try #require(await lease(c, "sim-stop"))
            try await Task.sleep(for: .seconds(1))
            let later = try #require(await lease(c, "sim-stop"))
            #expect(later.metadata.resourceVersion == stopped.metadata.resourceVersion)
            let n = try #require(await node(c, "sim-stop"))
            #expect(n.status?.conditions?.first { $0.type == "Ready" }?.status == "True")

            // A restarted agent takes the existing node over and renews its lease again.
            try await withNodes(c, ["sim-stop"]) { nodes in
                #expect(await c.eventually { nodes.registered == 1 })
                #expect(await c.eventually {
                    guard let t = await lease(c, "sim-stop")?.spec?.renewTime, let s = stopped.spec?.renewTime else { return false }
                    return t > s
                })
                let again = try #require(await node(c, "sim-stop"))
                #expect(again.metadata.uid == n.metadata.uid)
            }
        }
    }
}
