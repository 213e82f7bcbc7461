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
                let replaced = await c.eventually {
                    guard let again = try? await c.client.get(ServiceAccount.self, namespace: "team", name: "default") else { return false }
                    return again.metadata.uid != first.metadata.uid
                }
                #expect(replaced)
            }
        }
    }
}
