import AsyncHTTPClient
import Foundation
import HerdAPI
import NIOCore

/// `metrics.k8s.io/v1beta1` as metrics-server serves it (NodeMetrics, PodMetrics), built on request from
/// every node's `/stats/summary`. Nodes that do not answer within a short time, and simulated nodes
/// without a kubelet endpoint, are left out.
struct MetricsAPI: Sendable {
    let proxy: NodeProxy
    static let group = "metrics.k8s.io"
    static let version = "v1beta1"
    static let groupVersion = "metrics.k8s.io/v1beta1"
    /// metrics-server's resolution; the kubelet samples at about this interval.
    static let window = "10s"
    static let fetchTimeout: TimeAmount = .seconds(3)

    // MARK: discovery

    static var legacyGroup: JSONValue {
        let v: JSONValue = ["groupVersion": .string(groupVersion), "version": .string(version)]
        return ["name": .string(group), "versions": [v], "preferredVersion": v]
    }

    static func aggregatedItem() -> JSONValue {
        func resource(_ plural: String, _ kind: String, _ scope: String) -> JSONValue {
            ["resource": .string(plural), "responseKind": ["group": .string(group), "version": .string(version), "kind": .string(kind)],
             "scope": .string(scope), "singularResource": "", "verbs": ["get", "list"]]
        }
        return ["metadata": ["name": .string(group)],
                "versions": [["version": .string(version), "freshness": "Current",
                              "resources": [resource("nodes", "NodeMetrics", "Cluster"), resource("pods", "PodMetrics", "Namespaced")]]]]
    }

    /// Adds the group to `/apis` (legacy APIGroupList or aggregated APIGroupDiscoveryList).
    static func addingDiscovery(to doc: JSONValue, aggregated: Bool) -> JSONValue {
        var d = doc
        if aggregated {
            d["items"] = .array((d["items"]?.arrayValue ?? []) + [aggregatedItem()])
        } else {
            d["groups"] = .array((d["groups"]?.arrayValue ?? []) + [legacyGroup])
        }
        return d
    }

    static var resourceList: JSONValue {
        ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion),
         "resources": [
             ["name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]],
             ["name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]],
         ]]
    }

    // MARK: requests

    /// Answers a GET below `/apis/metrics.k8s.io`; nil when the path is not ours.
    func handle(path: String, query: Query) async throws -> JSONValue? {
        let segs = path.split(separator: "/").map { Query.decode($0) }
        guard segs.count >= 2, segs[0] == "apis", segs[1] == Self.group else { return nil }
        if segs.count == 2 {
            var g = Self.legacyGroup
            g["kind"] = "APIGroup"
            g["apiVersion"] = "v1"
            return g
        }
        guard segs[2] == Self.version else { throw Router.notFound(path) }
        let rest = Array(segs[3...])
        switch rest.count {
        case 0: return Self.resourceList
        case 1 where rest[0] == "nodes": return try await nodes(name: nil, query: query)
        case 2 where rest[0] == "nodes": return try await nodes(name: rest[1], query: query)
        case 1 where rest[0] == "pods": return try await pods(namespace: nil, name: nil, query: query)
        case 3 where rest[0] == "namespaces" && rest[2] == "pods": return try await pods(namespace: rest[1], name: nil, query: query)
        case 4 where rest[0] == "namespaces" && rest[2] == "pods": return try await pods(namespace: rest[1], name: rest[3], query: query)
        default: throw Router.notFound(path)
        }
    }

    private func listQuery(_ query: Query, name: String?) -> Query {
        var parts: [String] = []
        if let ls = query["labelSelector"], !ls.isEmpty { parts.append("labelSelector=" + QueryEscaping.escape(ls)) }
        if let name { parts.append("fieldSelector=" + QueryEscaping.escape("metadata.name=\(name)")) }
        return Query(parts.joined(separator: "&"))
    }

    private func list(_ plural: String, namespace: String?, query: Query) async throws -> [JSONValue] {
        guard let kind = proxy.registry.lookup(group: "", version: "v1", plural: plural) else { return [] }
        let r = ResourcePath(kind: kind, namespace: namespace, name: nil, subresource: nil, legacyWatch: false)
        return try await proxy.handlers.list(r, query: query).items.compactMap(\.json)
    }

    private func nodes(name: String?, query: Query) async throws -> JSONValue {
        let nodes = try await list("nodes", namespace: nil, query: listQuery(query, name: name))
        let summaries = await fetchSummaries(nodes)
        var items: [JSONValue] = []
        for node in nodes {
            guard let nodeName = node.name, let summary = summaries[nodeName], let stats = summary["node"] else { continue }
            items.append([
                "metadata": metadata(name: nodeName, namespace: nil, labels: node[path: ["metadata", "labels"]]),
                "timestamp": .string(stats[path: ["cpu", "time"]]?.stringValue ?? Time.now().rfc3339),
                "window": .string(Self.window),
                "usage": usage(stats),
            ])
        }
        if let name {
            guard var item = items.first else {
                throw APIError(code: 404, reason: "NotFound", message: "nodemetrics.metrics.k8s.io \"\(name)\" not found",
                               details: StatusDetails(name: name, group: Self.group, kind: "nodes"))
            }
            item["kind"] = "NodeMetrics"
            item["apiVersion"] = .string(Self.groupVersion)
            return item
        }
        return ["kind": "NodeMetricsList", "apiVersion": .string(Self.groupVersion), "metadata": [:], "items": .array(items)]
    }

    private func pods(namespace: String?, name: String?, query: Query) async throws -> JSONValue {
        let pods = try await list("pods", namespace: namespace, query: listQuery(query, name: name))
        var wanted: [String: JSONValue] = [:]
        var nodeNames: Set<String> = []
        for p in pods {
            guard let n = p.name, let ns = p.namespace else { continue }
            wanted[ns + "/" + n] = p
            if let node = p[path: ["spec", "nodeName"]]?.stringValue { nodeNames.insert(node) }
        }
        var items: [JSONValue] = []
        if !wanted.isEmpty {
            let nodes = try await list("nodes", namespace: nil, query: Query(nil)).filter { nodeNames.contains($0.name ?? "") }
            let summaries = await fetchSummaries(nodes)
            for (_, summary) in summaries.sorted(by: { $0.key < $1.key }) {
                for stats in summary["pods"]?.arrayValue ?? [] {
                    guard let podName = stats[path: ["podRef", "name"]]?.stringValue,
                          let podNamespace = stats[path: ["podRef", "namespace"]]?.stringValue,
                          let pod = wanted[podNamespace + "/" + podName] else { continue }
                    let containers: [JSONValue] = (stats["containers"]?.arrayValue ?? []).compactMap { c in
                        guard let cname = c["name"]?.stringValue else { return nil }
                        return ["name": .string(cname), "usage": usage(c)]
                    }
                    if containers.isEmpty { continue }
                    items.append([
                        "metadata": metadata(name: podName, namespace: podNamespace, labels: pod[path: ["metadata", "labels"]]),
                        "timestamp": .string(stats[path: ["cpu", "time"]]?.stringValue ?? Time.now().rfc3339),
                        "window": .string(Self.window),
                        "containers": .array(containers),
                    ])
                }
            }
        }
        items.sort { (($0.namespace ?? ""), ($0.name ?? "")) < (($1.namespace ?? ""), ($1.name ?? "")) }
        if let name {
            guard var item = items.first else {
                throw APIError(code: 404, reason: "NotFound", message: "podmetrics.metrics.k8s.io \"\(name)\" not found",
                               details: StatusDetails(name: name, group: Self.group, kind: "pods"))
            }
            item["kind"] = "PodMetrics"
            item["apiVersion"] = .string(Self.groupVersion)
            return item
        }
        return ["kind": "PodMetricsList", "apiVersion": .string(Self.groupVersion), "metadata": [:], "items": .array(items)]
    }

    private func metadata(name: String, namespace: String?, labels: JSONValue?) -> JSONValue {
        var m: [String: JSONValue] = ["name": .string(name), "creationTimestamp": .string(Time.now().rfc3339)]
        if let namespace { m["namespace"] = .string(namespace) }
        if let labels, !(labels.objectValue?.isEmpty ?? true) { m["labels"] = labels }
        return .object(m)
    }

    /// `{"cpu": "<n>n", "memory": "<n>Ki"}` from a Summary entry, formatted like metrics-server
    /// (cpu as a nano-scaled quantity, memory as a binary one).
    func usage(_ stats: JSONValue) -> JSONValue {
        let nanoCores = stats[path: ["cpu", "usageNanoCores"]]?.intValue ?? 0
        let memory = stats[path: ["memory", "workingSetBytes"]]?.intValue ?? 0
        return ["cpu": .string(Quantity(nanos: Int128(nanoCores)).description),
                "memory": .string(Quantity(integer: memory, format: .binarySI).description)]
    }

    /// Every given node's Summary; nodes without a kubelet endpoint or that do not answer in time are
    /// missing from the result.
    private func fetchSummaries(_ nodes: [JSONValue]) async -> [String: JSONValue] {
        await proxy.fetchJSON("/stats/summary", from: nodes, timeout: Self.fetchTimeout)
    }
}
