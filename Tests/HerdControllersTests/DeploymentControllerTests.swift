import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Synchronization
import Testing

enum DeploymentFixtures {
    static let controllers: Set<String> = ["deployment-controller", "replicaset-controller"]

    static func deployment(_ name: String, replicas: Int32, image: String = "nginx:1.25", strategy: DeploymentStrategy? = nil,
                           revisionHistoryLimit: Int32? = nil, progressDeadlineSeconds: Int32? = nil) -> Deployment {
        let labels = ["app": name]
        return Deployment(metadata: ObjectMeta(name: name, namespace: "default"),
                          spec: DeploymentSpec(replicas: replicas, selector: LabelSelector(matchLabels: labels),
                                               template: WorkloadFixtures.template(labels: labels, image: image),
                                               strategy: strategy, revisionHistoryLimit: revisionHistoryLimit,
                                               progressDeadlineSeconds: progressDeadlineSeconds))
    }

    static func get(_ c: LiveCluster, _ name: String) async throws -> Deployment {
        try await c.client.get(Deployment.self, namespace: "default", name: name)
    }

    static func replicaSets(_ c: LiveCluster, _ name: String) async throws -> [ReplicaSet] {
        try await c.client.listAll(ReplicaSet.self, namespace: "default", options: ListOptions(labelSelector: "app=\(name)")).items
    }

    static func setImage(_ c: LiveCluster, _ name: String, _ image: String) async throws {
        _ = try await c.client.patch(Deployment.self, namespace: "default", name: name, type: .strategicMerge,
                                     body: ["spec": ["template": ["spec": ["containers": [["name": "app", "image": .string(image)]]]]]])
    }

    /// kubectl's rollout status verdict (polymorphichelpers DeploymentStatusViewer).
    static func rolledOut(_ d: Deployment) -> Bool {
        guard (d.metadata.generation ?? 0) <= (d.status?.observedGeneration ?? 0) else { return false }
        let s = d.status ?? DeploymentStatus()
        let want = d.spec?.replicas ?? 1
        return (s.updatedReplicas ?? 0) >= want && (s.replicas ?? 0) <= (s.updatedReplicas ?? 0)
            && (s.availableReplicas ?? 0) >= (s.updatedReplicas ?? 0)
    }

    static func condition(_ d: Deployment, _ type: String) -> DeploymentCondition? {
        d.status?.conditions?.first { $0.type == type }
    }

    static func events(_ c: LiveCluster, reason: String) async throws -> [Event] {
        try await c.client.listAll(Event.self, namespace: "default").items.filter { $0.reason == reason }
    }
}

@Suite("Deployment controller", .serialized)
struct DeploymentControllerTests {
    @Test("a deployment gets a ReplicaSet named after its template hash, with the revision annotations, and reports its rollout")
    func createsReplicaSet() async throws {
        try await LiveCluster.with { c in
            try await c.running(DeploymentFixtures.controllers) {
                try await WorkloadFixtures.withKubelet(c) {
                    let d = try await c.client.create(DeploymentFixtures.deployment("web", replicas: 3))
                    #expect(try await c.eventually(timeout: .seconds(60)) { DeploymentFixtures.rolledOut(try await DeploymentFixtures.get(c, "web")) })
                    let sets = try await DeploymentFixtures.replicaSets(c, "web")
                    try #require(sets.count == 1)
                    let rs = sets[0]
                    let hash = try #require(rs.metadata.labels?["pod-template-hash"])
                    #expect(rs.metadata.name == "web-\(hash)")
                    #expect(rs.spec?.selector?.matchLabels == ["app": "web", "pod-template-hash": hash])
                    #expect(rs.spec?.template?.metadata?.labels == ["app": "web", "pod-template-hash": hash])
                    #expect(rs.metadata.annotations?["deployment.kubernetes.io/revision"] == "1")
                    #expect(rs.metadata.annotations?["deployment.kubernetes.io/desired-replicas"] == "3")
                    #expect(rs.metadata.annotations?["deployment.kubernetes.io/max-replicas"] == "4")
                    #expect(rs.metadata.ownerReferences?.first?.uid == d.metadata.uid)
                    #expect(rs.spec?.replicas == 3)

                    let done = try await DeploymentFixtures.get(c, "web")
                    #expect(done.metadata.annotations?["deployment.kubernetes.io/revision"] == "1")
                    let s = try #require(done.status)
                    #expect(s.replicas == 3 && s.updatedReplicas == 3 && s.readyReplicas == 3 && s.availableReplicas == 3)
                    #expect((s.unavailableReplicas ?? 0) == 0)
                    #expect(s.observedGeneration == done.metadata.generation)
                    let available = DeploymentFixtures.condition(done, "Available")
                    #expect(available?.status == "True" && available?.reason == "MinimumReplicasAvailable")
                    #expect(try await c.eventually {
                        let p = DeploymentFixtures.condition(try await DeploymentFixtures.get(c, "web"), "Progressing")
                        return p?.status == "True" && p?.reason == "NewReplicaSetAvailable"
                            && p?.message == "ReplicaSet \"\(rs.metadata.name ?? "")\" has successfully progressed."
                    })
                    #expect(try await c.eventually {
                        try await DeploymentFixtures.events(c, reason: "ScalingReplicaSet")
                            .contains { $0.message == "Scaled up replica set \(rs.metadata.name ?? "") from 0 to 3" }
                    })
                    // the hash is a function of the template: the same template gives the same name
                    try await c.client.delete(ReplicaSet.self, namespace: "default", name: rs.metadata.name ?? "")
                    #expect(try await c.eventually {
                        let now = try await DeploymentFixtures.replicaSets(c, "web")
                        return now.count == 1 && now[0].metadata.name == rs.metadata.name && now[0].metadata.uid != rs.metadata.uid
                    })
                }
            }
        }
    }

    @Test("a rolling update never has more than replicas+maxSurge pods nor fewer than replicas-maxUnavailable available",
          arguments: [(IntOrString.int(1), IntOrString.int(0)), (IntOrString.string("25%"), IntOrString.string("25%")),
                      (IntOrString.int(0), IntOrString.int(2))])
    func rollingUpdateBounds(surge: IntOrString, unavailable: IntOrString) async throws {
        try await LiveCluster.with { c in
            try await c.running(DeploymentFixtures.controllers) {
                try await WorkloadFixtures.withKubelet(c) {
                    let replicas: Int32 = 4
                    let strategy = DeploymentStrategy(type: "RollingUpdate",
                                                      rollingUpdate: RollingUpdateDeployment(maxUnavailable: unavailable, maxSurge: surge))
                    _ = try await c.client.create(DeploymentFixtures.deployment("web", replicas: replicas, strategy: strategy))
                    #expect(try await c.eventually(timeout: .seconds(60)) { DeploymentFixtures.rolledOut(try await DeploymentFixtures.get(c, "web")) })
                    let maxSurge = try surge.scaledValue(total: Int(replicas), roundUp: true)
                    let maxUnavailable = try unavailable.scaledValue(total: Int(replicas), roundUp: false)

                    // The watcher's view: pods that exist and are not being deleted, and those of them Ready.
                    let violations = Mutex<[String]>([])
                    let seenNewImage = Mutex(false)
                    let initial = try await c.client.list(Pod.self, namespace: "default")
                    var pods: [String: Pod] = [:]
                    for p in initial.items { pods[p.metadata.name ?? ""] = p }
                    let start = pods
                    let watcher = Task {
                        var pods = start
                        for try await event in c.client.watch(Pod.self, namespace: "default",
                                                              options: ListOptions(resourceVersion: initial.metadata.resourceVersion)) {
                            switch event {
                            case .added(let p), .modified(let p): pods[p.metadata.name ?? ""] = p
                            case .deleted(let p): pods[p.metadata.name ?? ""] = nil
                            case .bookmark: continue
                            }
                            let live = pods.values.filter { $0.metadata.deletionTimestamp == nil }
                            let available = live.filter(\.isReady).count
                            if live.contains(where: { $0.spec?.containers?.first?.image == "nginx:1.26" }) { seenNewImage.withLock { $0 = true } }
                            if live.count > Int(replicas) + maxSurge {
                                violations.withLock { $0.append("\(live.count) pods > \(Int(replicas) + maxSurge)") }
                            }
                            if available < Int(replicas) - maxUnavailable {
                                violations.withLock { $0.append("\(available) available < \(Int(replicas) - maxUnavailable)") }
                            }
                        }
                    }
                    defer { watcher.cancel() }
                    try await DeploymentFixtures.setImage(c, "web", "nginx:1.26")
                    #expect(try await c.eventually(timeout: .seconds(90)) {
                        let d = try await DeploymentFixtures.get(c, "web")
                        let pods = try await WorkloadFixtures.pods(c)
                        return DeploymentFixtures.rolledOut(d) && pods.count == Int(replicas)
                            && pods.allSatisfy { $0.spec?.containers?.first?.image == "nginx:1.26" }
                    })
                    #expect(seenNewImage.withLock { $0 })
                    #expect(violations.withLock { $0 } == [])
                    let sets = try await DeploymentFixtures.replicaSets(c, "web").sorted { ($0.metadata.annotations?["deployment.kubernetes.io/revision"] ?? "") < ($1.metadata.annotations?["deployment.kubernetes.io/revision"] ?? "") }
                    #expect(sets.map { $0.metadata.annotations?["deployment.kubernetes.io/revision"] } == ["1", "2"])
                    #expect(sets.map(\.spec?.replicas) == [0, 4])
                    #expect(try await DeploymentFixtures.get(c, "web").metadata.annotations?["deployment.kubernetes.io/revision"] == "2")
                }
            }
        }
    }

    @Test("Recreate removes every old pod before the first new one is created")
    func recreate() async throws {
        try await LiveCluster.with { c in
            try await c.running(DeploymentFixtures.controllers) {
                try await WorkloadFixtures.withKubelet(c) {
                    _ = try await c.client.create(DeploymentFixtures.deployment("web", replicas: 3, strategy: DeploymentStrategy(type: "Recreate")))
                    #expect(try await c.eventually(timeout: .seconds(60)) { DeploymentFixtures.rolledOut(try await DeploymentFixtures.get(c, "web")) })
                    let mixed = Mutex(false)
                    let initial = try await c.client.list(Pod.self, namespace: "default")
                    var start: [String: Pod] = [:]
                    for p in initial.items { start[p.metadata.name ?? ""] = p }
                    let watcher = Task { [start] in
                        var pods = start
                        for try await event in c.client.watch(Pod.self, namespace: "default",
                                                              options: ListOptions(resourceVersion: initial.metadata.resourceVersion)) {
                            switch event {
                            case .added(let p), .modified(let p): pods[p.metadata.name ?? ""] = p
                            case .deleted(let p): pods[p.metadata.name ?? ""] = nil
                            case .bookmark: continue
                            }
                            let images = Set(pods.values.compactMap { $0.spec?.containers?.first?.image })
                            if images.count > 1 { mixed.withLock { $0 = true } }
                        }
                    }
                    defer { watcher.cancel() }
                    try await DeploymentFixtures.setImage(c, "web", "nginx:1.26")
                    #expect(try await c.eventually(timeout: .seconds(60)) {
                        let pods = try await WorkloadFixtures.pods(c)
                        return DeploymentFixtures.rolledOut(try await DeploymentFixtures.get(c, "web")) && pods.count == 3
                            && pods.allSatisfy { $0.spec?.containers?.first?.image == "nginx:1.26" }
                    })
                    #expect(!mixed.withLock { $0 })
                }
            }
        }
    }

    @Test("a paused deployment scales but does not roll; resuming rolls")
    func paused() async throws {
        try await LiveCluster.with { c in
            try await c.running(DeploymentFixtures.controllers) {
                try await WorkloadFixtures.withKubelet(c) {
                    _ = try await c.client.create(DeploymentFixtures.deployment("web", replicas: 2))
                    #expect(try await c.eventually(timeout: .seconds(60)) { DeploymentFixtures.rolledOut(try await DeploymentFixtures.get(c, "web")) })
                    _ = try await c.client.patch(Deployment.self, namespace: "default", name: "web", type: .merge, body: ["spec": ["paused": true]])
                    try await DeploymentFixtures.setImage(c, "web", "nginx:1.26")
                    _ = try await c.client.patch(Deployment.self, namespace: "default", name: "web", type: .merge,
                                                 body: ["spec": ["replicas": 3]], subresource: "scale")
                    #expect(try await c.eventually(timeout: .seconds(30)) {
                        let d = try await DeploymentFixtures.get(c, "web")
                        let p = DeploymentFixtures.condition(d, "Progressing")
                        return d.status?.observedGeneration == d.metadata.generation && p?.reason == "DeploymentPaused"
                            && p?.status == "Unknown" && d.status?.availableReplicas == 3
                    })
                    let sets = try await DeploymentFixtures.replicaSets(c, "web")
                    #expect(sets.count == 1)
                    #expect(sets.first?.spec?.replicas == 3)
                    #expect(try await WorkloadFixtures.pods(c).allSatisfy { $0.spec?.containers?.first?.image == "nginx:1.25" })

                    _ = try await c.client.patch(Deployment.self, namespace: "default", name: "web", type: .merge, body: ["spec": ["paused": .null]])
                    #expect(try await c.eventually(timeout: .seconds(60)) {
                        let pods = try await WorkloadFixtures.pods(c)
                        return DeploymentFixtures.rolledOut(try await DeploymentFixtures.get(c, "web")) && pods.count == 3
                            && pods.allSatisfy { $0.spec?.containers?.first?.image == "nginx:1.26" }
                    })
                    #expect(try await c.eventually {
                        DeploymentFixtures.condition(try await DeploymentFixtures.get(c, "web"), "Progressing")?.reason == "NewReplicaSetAvailable"
                    })
                }
            }
        }
    }

    @Test("rollout undo's patch brings back the previous template, reusing its ReplicaSet under a new revision")
    func rollback() async throws {
        try await LiveCluster.with { c in
            try await c.running(DeploymentFixtures.controllers) {
                try await WorkloadFixtures.withKubelet(c) {
                    _ = try await c.client.create(DeploymentFixtures.deployment("web", replicas: 2))
                    #expect(try await c.eventually(timeout: .seconds(60)) { DeploymentFixtures.rolledOut(try await DeploymentFixtures.get(c, "web")) })
                    _ = try await c.client.patch(Deployment.self, namespace: "default", name: "web", type: .merge,
                                                 body: ["metadata": ["annotations": ["kubernetes.io/change-cause": "v2"]]])
                    try await DeploymentFixtures.setImage(c, "web", "nginx:1.26")
                    #expect(try await c.eventually(timeout: .seconds(60)) {
                        let d = try await DeploymentFixtures.get(c, "web")
                        return DeploymentFixtures.rolledOut(d) && d.metadata.annotations?["deployment.kubernetes.io/revision"] == "2"
                    })
                    let sets = try await DeploymentFixtures.replicaSets(c, "web")
                    let first = try #require(sets.first { $0.metadata.annotations?["deployment.kubernetes.io/revision"] == "1" })
                    let second = try #require(sets.first { $0.metadata.annotations?["deployment.kubernetes.io/revision"] == "2" })
                    #expect(second.metadata.annotations?["kubernetes.io/change-cause"] == "v2")

                    // What `kubectl rollout undo` sends: a JSON patch of the template (hash label removed) and
                    // the annotations (the deployment's skipped ones plus the ReplicaSet's others).
                    let d = try await DeploymentFixtures.get(c, "web")
                    var template = try #require(first.spec?.template)
                    template.metadata?.labels?["pod-template-hash"] = nil
                    var annotations: [String: String] = [:]
                    for k in ["deployment.kubernetes.io/revision"] { annotations[k] = d.metadata.annotations?[k] }
                    for (k, v) in first.metadata.annotations ?? [:] where !k.hasPrefix("deployment.kubernetes.io/") { annotations[k] = v }
                    let patch: JSONValue = .array([
                        ["op": "replace", "path": "/spec/template", "value": try JSONValueEncoder.encode(template)],
                        ["op": "replace", "path": "/metadata/annotations", "value": try JSONValueEncoder.encode(annotations)],
                    ])
                    _ = try await c.client.patch(Deployment.self, namespace: "default", name: "web", type: .json, body: patch)

                    #expect(try await c.eventually(timeout: .seconds(60)) {
                        let d = try await DeploymentFixtures.get(c, "web")
                        let pods = try await WorkloadFixtures.pods(c)
                        return DeploymentFixtures.rolledOut(d) && d.metadata.annotations?["deployment.kubernetes.io/revision"] == "3"
                            && pods.count == 2 && pods.allSatisfy { $0.spec?.containers?.first?.image == "nginx:1.25" }
                    })
                    let after = try await DeploymentFixtures.replicaSets(c, "web")
                    #expect(after.count == 2)
                    let reused = try #require(after.first { $0.metadata.uid == first.metadata.uid })
                    #expect(reused.metadata.annotations?["deployment.kubernetes.io/revision"] == "3")
                    #expect(reused.metadata.annotations?["deployment.kubernetes.io/revision-history"] == "1")
                    #expect(reused.spec?.replicas == 2)
                    #expect(after.first { $0.metadata.uid == second.metadata.uid }?.spec?.replicas == 0)
                }
            }
        }
    }

    @Test("a rollout that makes no progress within progressDeadlineSeconds is marked ProgressDeadlineExceeded")
    func progressDeadline() async throws {
        try await LiveCluster.with { c in
            try await c.running(DeploymentFixtures.controllers) {
                // no kubelet: the pods never become ready
                _ = try await c.client.create(DeploymentFixtures.deployment("web", replicas: 2, progressDeadlineSeconds: 2))
                #expect(try await c.eventually(timeout: .seconds(30)) {
                    let d = try await DeploymentFixtures.get(c, "web")
                    let p = DeploymentFixtures.condition(d, "Progressing")
                    let rs = try await DeploymentFixtures.replicaSets(c, "web").first?.metadata.name ?? "?"
                    return p?.status == "False" && p?.reason == "ProgressDeadlineExceeded"
                        && p?.message == "ReplicaSet \"\(rs)\" has timed out progressing."
                })
                let d = try await DeploymentFixtures.get(c, "web")
                let available = DeploymentFixtures.condition(d, "Available")
                #expect(available?.status == "False" && available?.reason == "MinimumReplicasUnavailable")
                #expect(d.status?.unavailableReplicas == 2)
                #expect(d.status?.updatedReplicas == 2)
            }
        }
    }

    @Test("old ReplicaSets beyond revisionHistoryLimit are deleted")
    func revisionHistoryLimit() async throws {
        try await LiveCluster.with { c in
            try await c.running(DeploymentFixtures.controllers) {
                try await WorkloadFixtures.withKubelet(c) {
                    _ = try await c.client.create(DeploymentFixtures.deployment("web", replicas: 1, revisionHistoryLimit: 1))
                    for (i, image) in ["nginx:1.25", "nginx:1.26", "nginx:1.27"].enumerated() {
                        if i > 0 { try await DeploymentFixtures.setImage(c, "web", image) }
                        #expect(try await c.eventually(timeout: .seconds(60)) {
                            let d = try await DeploymentFixtures.get(c, "web")
                            return DeploymentFixtures.rolledOut(d) && d.metadata.annotations?["deployment.kubernetes.io/revision"] == "\(i + 1)"
                        })
                    }
                    #expect(try await c.eventually {
                        let revisions = try await DeploymentFixtures.replicaSets(c, "web").compactMap { $0.metadata.annotations?["deployment.kubernetes.io/revision"] }
                        return revisions.sorted() == ["2", "3"]
                    })
                }
            }
        }
    }

    @Test("scaling in the middle of a rollout spreads the change over the ReplicaSets proportionally")
    func proportionalScaling() async throws {
        try await LiveCluster.with { c in
            try await c.running(DeploymentFixtures.controllers) {
                // Ready only the first revision's pods, so the rollout stalls half-way.
                let strategy = DeploymentStrategy(type: "RollingUpdate", rollingUpdate: RollingUpdateDeployment(maxUnavailable: 0, maxSurge: 3))
                _ = try await c.client.create(DeploymentFixtures.deployment("web", replicas: 10, strategy: strategy))
                #expect(try await c.eventually { try await WorkloadFixtures.pods(c).count == 10 })
                for p in try await WorkloadFixtures.pods(c) { try await WorkloadFixtures.markReady(c, p) }
                #expect(try await c.eventually(timeout: .seconds(60)) { DeploymentFixtures.rolledOut(try await DeploymentFixtures.get(c, "web")) })
                try await DeploymentFixtures.setImage(c, "web", "nginx:1.26")
                #expect(try await c.eventually {
                    let sizes = try await DeploymentFixtures.replicaSets(c, "web").map { $0.spec?.replicas ?? 0 }.sorted()
                    return sizes == [3, 10]
                })
                _ = try await c.client.patch(Deployment.self, namespace: "default", name: "web", type: .merge,
                                             body: ["spec": ["replicas": 20]], subresource: "scale")
                // 13 of 13 allowed become 23 allowed: 10 -> 18 (10*23/13 rounded), and the leftover to the other: 3 -> 5
                #expect(try await c.eventually {
                    let sets = try await DeploymentFixtures.replicaSets(c, "web")
                    return sets.map { $0.spec?.replicas ?? 0 }.reduce(0, +) == 23
                        && sets.allSatisfy { $0.metadata.annotations?["deployment.kubernetes.io/desired-replicas"] == "20" }
                })
                let sizes = try await DeploymentFixtures.replicaSets(c, "web").map { $0.spec?.replicas ?? 0 }.sorted()
                #expect(sizes == [5, 18])
            }
        }
    }

    @Test("real kubectl rollout status waits for the rollout and reports success", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl")))
    func kubectlRolloutStatus() async throws {
        try await LiveCluster.with { c in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-rollout-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let kubeconfig = dir.appendingPathComponent("config")
            try """
            apiVersion: v1
            kind: Config
            clusters:
            - name: herd
              cluster:
                server: http://127.0.0.1:\(c.port)
            contexts:
            - name: herd
              context:
                cluster: herd
                user: herd
                namespace: default
            current-context: herd
            users:
            - name: herd
              user: {}
            """.write(to: kubeconfig, atomically: true, encoding: .utf8)
            try await c.running(DeploymentFixtures.controllers) {
                _ = try await c.client.create(DeploymentFixtures.deployment("web", replicas: 2))
                try await WorkloadFixtures.withKubelet(c) {
                    let (code, out) = try await Self.run("/usr/bin/kubectl", ["--kubeconfig", kubeconfig.path, "rollout", "status",
                                                                               "deployment/web", "--timeout=60s"])
                    #expect(code == 0, "\(out)")
                    #expect(out.hasSuffix("deployment \"web\" successfully rolled out\n"), "\(out)")
                }
            }
        }
    }

    static func run(_ path: String, _ args: [String]) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = await Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }.value
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
