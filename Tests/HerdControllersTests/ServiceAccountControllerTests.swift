import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Testing

@Suite struct ServiceAccountControllerTests {
    @Test func everyNamespaceGetsADefaultServiceAccountBack() async throws {
        try await LiveCluster.with { c in
            try await c.running(["serviceaccount-controller"]) {
                _ = try await c.client.create(Namespace(metadata: ObjectMeta(name: "team")))
                #expect(try await c.eventually { try await Fixtures.exists(c, ServiceAccount.self, "default", ns: "team") })
                // the namespaces the server starts with get one too
                #expect(try await c.eventually { try await Fixtures.exists(c, ServiceAccount.self, "default", ns: "kube-system") })

                let first = try await c.client.get(ServiceAccount.self, namespace: "team", name: "default")
                try await c.client.delete(ServiceAccount.self, namespace: "team", name: "default")
                #expect(try await c.eventually {
                    let again = try? await c.client.get(ServiceAccount.self, namespace: "team", name: "default")
                    return again != nil && again?.metadata.uid != first.metadata.uid
                })
            }
        }
    }
}
