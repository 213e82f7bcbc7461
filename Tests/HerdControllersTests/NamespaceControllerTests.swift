import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Testing

@Suite struct NamespaceControllerTests {
    static let controllers: Set<String> = ["namespace-controller"]

    func namespace(_ c: LiveCluster, _ name: String) async throws {
        _ = try await c.client.create(Namespace(metadata: ObjectMeta(name: name)))
    }

    @Test func deletingANamespaceEmptiesItThenRemovesIt() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await namespace(c, "doomed")
                try await Fixtures.create(c, Pod.resourceInfo, Fixtures.pod("p", ns: "doomed"))
                try await Fixtures.create(c, ReplicaSet.resourceInfo, Fixtures.replicaSet("rs", ns: "doomed"))
                _ = try await c.client.create(ConfigMap(metadata: ObjectMeta(name: "cm", namespace: "doomed")))
                _ = try await c.client.create(ServiceAccount(metadata: ObjectMeta(name: "sa", namespace: "doomed")))
                try await namespace(c, "kept")
                _ = try await c.client.create(ConfigMap(metadata: ObjectMeta(name: "cm", namespace: "kept")))

                try await c.client.delete(Namespace.self, name: "doomed")
                #expect(try await c.eventually { try await !Fixtures.exists(c, Namespace.self, "doomed", ns: nil) })
                #expect(try await c.client.list(Pod.self, namespace: "doomed").items.isEmpty)
                #expect(try await c.client.list(ConfigMap.self, namespace: "doomed").items.isEmpty)
                #expect(try await c.client.list(ReplicaSet.self, namespace: "doomed").items.isEmpty)
                #expect(try await c.client.list(ServiceAccount.self, namespace: "doomed").items.isEmpty)
                #expect(try await Fixtures.exists(c, ConfigMap.self, "cm", ns: "kept"))
            }
        }
    }

    @Test func contentHeldByAFinalizerShowsInTheConditionsAndKeepsTheNamespace() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await namespace(c, "held")
                var cm = ConfigMap(metadata: ObjectMeta(name: "cm", namespace: "held"))
                cm.metadata.finalizers = ["example.com/hold"]
                _ = try await c.client.create(cm)
                try await c.client.delete(Namespace.self, name: "held")

                func condition(_ type: String) async throws -> NamespaceCondition? {
                    try await c.client.get(Namespace.self, name: "held").status?.conditions?.first { $0.type == type }
                }
                #expect(try await c.eventually { try await condition("NamespaceContentRemaining")?.status == "True" })
                let remaining = try await condition("NamespaceContentRemaining")
                #expect(remaining?.reason == "SomeResourcesRemain")
                #expect(remaining?.message == "Some resources are remaining: configmaps. has 1 resource instances")
                let finalizers = try await condition("NamespaceFinalizersRemaining")
                #expect(finalizers?.status == "True")
                #expect(finalizers?.reason == "SomeFinalizersRemain")
                #expect(finalizers?.message == "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
                #expect(try await condition("NamespaceDeletionContentFailure")?.status == "False")
                let ns = try await c.client.get(Namespace.self, name: "held")
                #expect(ns.status?.phase == "Terminating")
                #expect(ns.spec?.finalizers == ["kubernetes"])

                try await Fixtures.removeFinalizers(c, ConfigMap.resourceInfo, "cm", ns: "held")
                #expect(try await c.eventually { try await !Fixtures.exists(c, Namespace.self, "held", ns: nil) })
            }
        }
    }

    @Test func terminatingPodsAreWaitedFor() async throws {
        try await LiveCluster.with { c in
            try await c.running(Self.controllers) {
                try await namespace(c, "slow")
                // a pod on a node terminates gracefully: it stays until its node (here: the test) lets it go
                let created = try await Fixtures.create(c, Pod.resourceInfo, Fixtures.pod("p", ns: "slow", nodeName: "n1"))
                var pod = try JSONValueDecoder.decodeValue(Pod.self, from: created)
                pod.status?.phase = "Running"
                _ = try await c.client.updateStatus(pod)
                try await c.client.delete(Namespace.self, name: "slow")
                #expect(try await c.eventually {
                    try await c.client.get(Pod.self, namespace: "slow", name: "p").metadata.deletionTimestamp != nil
                })
                #expect(try await Fixtures.exists(c, Namespace.self, "slow", ns: nil))
                try await c.client.delete(Pod.self, namespace: "slow", name: "p", options: DeleteOptions(gracePeriodSeconds: 0))
                #expect(try await c.eventually { try await !Fixtures.exists(c, Namespace.self, "slow", ns: nil) })
            }
        }
    }
}
