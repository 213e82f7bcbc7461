import Foundation
import HerdAPI
import HerdClient
import Synchronization
import Testing

/// The informer, leader election and event recorder against a live API server.
@Suite struct ClientMachineryTests {
    final class Log: Sendable {
        let lines = Mutex<[String]>([])
        func add(_ s: String) { lines.withLock { $0.append(s) } }
        var all: [String] { lines.withLock { $0 } }
    }

    func configMap(_ name: String, _ value: String = "1") -> ConfigMap {
        var cm = ConfigMap(metadata: ObjectMeta(name: name, namespace: "default"))
        cm.data = ["v": value]
        return cm
    }

    @Test func informerListsThenWatchesAndTellsHandlers() async throws {
        try await LiveCluster.with { c in
            _ = try await c.client.create(configMap("before"))
            let informer = c.informers.informer(ConfigMap.self)
            let log = Log()
            informer.addHandler(InformerHandler(
                onAdd: { log.add("add \($0.metadata.name!)") },
                onUpdate: { old, new in log.add("update \(new.metadata.name!) \(old.data?["v"] ?? "") -> \(new.data?["v"] ?? "")") },
                onDelete: { log.add("delete \($0.metadata.name!)") }))
            c.informers.start()
            await informer.waitForSync()
            #expect(informer.store.get(namespace: "default", name: "before") != nil)
            _ = try await c.client.create(configMap("after"))
            var cm = try await c.client.get(ConfigMap.self, namespace: "default", name: "before")
            cm.data = ["v": "2"]
            _ = try await c.client.update(cm)
            try await c.client.delete(ConfigMap.self, namespace: "default", name: "after")
            let done = await c.eventually { log.all.contains("delete after") }
            #expect(done)
            #expect(log.all == ["add before", "add after", "update before 1 -> 2", "delete after"])
            #expect(informer.store.get(namespace: "default", name: "after") == nil)
            #expect(informer.store.get(namespace: "default", name: "before")?.data?["v"] == "2")

            // a handler added late hears about what is cached
            let late = Log()
            informer.addHandler(.any { late.add($0.metadata.name!) })
            #expect(late.all == ["before"])
        }
    }

    @Test func resyncReplaysObjectsAsUpdates() async throws {
        try await LiveCluster.with { c in
            _ = try await c.client.create(configMap("r"))
            let informer = Informer<ConfigMap>(client: c.client, namespace: "default", resyncPeriod: .milliseconds(200))
            let log = Log()
            informer.addHandler(InformerHandler(onUpdate: { old, new in
                if old.metadata.resourceVersion == new.metadata.resourceVersion { log.add("resync \(new.metadata.name!)") }
            }))
            let task = Task { await informer.run() }
            defer { task.cancel() }
            let resynced = await c.eventually { log.all.count >= 2 }
            #expect(resynced)
        }
    }

    @Test func informerWithSelectorSeesOnlyItsObjects() async throws {
        try await LiveCluster.with { c in
            var web = configMap("web")
            web.metadata.labels = ["app": "web"]
            _ = try await c.client.create(web)
            _ = try await c.client.create(configMap("other"))
            let informer = Informer<ConfigMap>(client: c.client, labelSelector: "app=web")
            let task = Task { await informer.run() }
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(informer.store.list().map { $0.metadata.name! } == ["web"])
        }
    }

    @Test func onlyOneOfTwoCandidatesLeadsAndTheOtherTakesOverOnRelease() async throws {
        try await LiveCluster.with { c in
            let leading = Log()
            func candidate(_ id: String) -> (LeaderElector, Task<Void, Never>) {
                let e = LeaderElector(client: c.client, name: "test-lock", identity: id, leaseDuration: .seconds(2),
                                      renewDeadline: .seconds(1), retryPeriod: .milliseconds(200))
                let t = Task {
                    await e.run {
                        leading.add(id)
                        try? await Task.sleep(for: .seconds(3600))
                    }
                }
                return (e, t)
            }
            let (_, a) = candidate("a")
            #expect(await c.eventually { leading.all.count == 1 })
            let (_, b) = candidate("b")
            try await Task.sleep(for: .seconds(1))
            #expect(leading.all == ["a"], "b stays passive while a renews")
            let lease = try await c.client.get(Lease.self, namespace: "kube-system", name: "test-lock")
            #expect(lease.spec?.holderIdentity == "a")
            a.cancel()
            await a.value
            #expect(await c.eventually { leading.all == ["a", "b"] })
            let after = try await c.client.get(Lease.self, namespace: "kube-system", name: "test-lock")
            #expect(after.spec?.holderIdentity == "b")
            #expect(after.spec?.leaseTransitions == 1)
            b.cancel()
            await b.value
        }
    }

    @Test func repeatedEventsAreAggregatedIntoOneWithACount() async throws {
        try await LiveCluster.with { c in
            let pod = try await c.client.create(Pod(metadata: ObjectMeta(name: "p", namespace: "default"),
                                                    spec: PodSpec(containers: [Container(name: "c", image: "busybox")])))
            let recorder = EventRecorder(client: c.client, component: "test-controller", host: "h1")
            for _ in 0..<3 { recorder.record(pod, type: "Warning", reason: "Broken", message: "it broke") }
            recorder.record(pod, reason: "Fixed", message: "it works")
            await recorder.shutdown()
            let events = try await c.client.list(Event.self, namespace: "default").items
            #expect(events.count == 2)
            let broken = try #require(events.first { $0.reason == "Broken" })
            #expect(broken.count == 3)
            #expect(broken.type == "Warning")
            #expect(broken.involvedObject?.kind == "Pod")
            #expect(broken.involvedObject?.uid == pod.metadata.uid)
            #expect(broken.source?.component == "test-controller")
            #expect(broken.source?.host == "h1")
            #expect(broken.metadata.name?.hasPrefix("p.") == true)
            #expect(events.first { $0.reason == "Fixed" }?.count == 1)
        }
    }
}
