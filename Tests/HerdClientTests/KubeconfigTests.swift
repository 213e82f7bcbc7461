import Foundation
import Testing
@testable import HerdClient

@Suite struct KubeconfigTests {
    @Test func adminRoundTripsThroughDisk() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-kc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sub/kubeconfig.yaml"
        let kc = Kubeconfig.admin(server: "https://127.0.0.1:6443", token: "s3cret")
        try kc.write(to: path)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        let perms = attrs[.posixPermissions]
        #expect(((perms as? Int) ?? (perms as? NSNumber)?.intValue) == 0o600)
        let back = try Kubeconfig.load(path: path)
        #expect(back == kc)
        let (config, ns) = try back.clientConfig()
        #expect(config.server == "https://127.0.0.1:6443")
        #expect(config.bearerToken == "s3cret")
        #expect(ns == nil)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("current-context: herd"))
    }

    @Test func readsKubectlStyleFile() throws {
        let text = """
        apiVersion: v1
        kind: Config
        clusters:
        - cluster:
            certificate-authority-data: AAAA
            server: https://10.0.0.1:6443
          name: prod
        contexts:
        - context:
            cluster: prod
            namespace: web
            user: alice
          name: prod-ctx
        current-context: prod-ctx
        preferences: {}
        users:
        - name: alice
          user:
            token: abc
        """
        let kc = try Kubeconfig.parse(text)
        let (config, ns) = try kc.clientConfig()
        #expect(config.server == "https://10.0.0.1:6443")
        #expect(config.certificateAuthorityData == "AAAA")
        #expect(config.bearerToken == "abc")
        #expect(ns == "web")
        #expect(throws: HerdClientError.self) { try kc.clientConfig(context: "missing") }
    }

    /// kubectl's empty config (`clusters: null`), an empty file, and text that is not a kubeconfig.
    @Test func emptyNullAndMalformed() throws {
        let empty = try Kubeconfig.parse("apiVersion: v1\nclusters: null\ncontexts: null\ncurrent-context: \"\"\nkind: Config\nusers: null\n")
        #expect(empty.clusters.isEmpty && empty.users.isEmpty && empty.contexts.isEmpty)
        #expect(try Kubeconfig.parse("").clusters.isEmpty)
        #expect(throws: HerdClientError.self) { try Kubeconfig.parse("clusters: [unclosed") }
        #expect(throws: HerdClientError.self) { try Kubeconfig.parse("clusters: 3") }
    }

    @Test func missingFileIsNamed() {
        #expect(throws: HerdClientError.kubeconfigNotFound("/nonexistent/kc.yaml")) {
            try Kubeconfig.load(path: "/nonexistent/kc.yaml")
        }
    }

    @Test func resolutionOrder() {
        #expect(HerdPaths.resolveKubeconfigPath(flag: "/a", environment: ["KUBECONFIG": "/b"]) == "/a")
        #expect(HerdPaths.resolveKubeconfigPath(flag: nil, environment: ["KUBECONFIG": "/b"]) == "/b")
        #expect(HerdPaths.resolveKubeconfigPath(flag: nil, environment: [:]) == HerdPaths.defaultDataDir() + "/kubeconfig.yaml")
    }

    @Test func defaultDataDir() {
        let dir = HerdPaths.defaultDataDir()
        if geteuid() == 0 { #expect(dir == "/var/lib/herd") } else { #expect(dir.hasSuffix("/.local/share/herd")) }
    }

    @Test func hostPortForMessages() {
        #expect(ClientConfig(server: "https://127.0.0.1:6443").hostPort == "127.0.0.1:6443")
        #expect(ClientConfig(server: "https://example.com").hostPort == "example.com:443")
        #expect(ClientConfig(server: "http://localhost/").hostPort == "localhost:80")
    }
}
