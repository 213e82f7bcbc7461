import Foundation
import HerdAPI
import NIOCore

/// `custom.metrics.k8s.io/v1beta2` with one built-in metric, `connections_per_second` of Services: the new
/// connections per second that the service proxies of every Ready node count (their `/stats/services`),
/// summed. Served the way upstream adapters serve object metrics:
/// `/namespaces/{ns}/services/{name|*}/connections_per_second` answers a MetricValueList.
struct CustomMetricsAPI: Sendable {
    let proxy: NodeProxy
    static let group = "custom.metrics.k8s.io"
    static let version = "v1beta2"
    static let groupVersion = "custom.metrics.k8s.io/v1beta2"
    static let connectionsPerSecond = "connections_per_second"
    static let fetchTimeout: TimeAmount = .seconds(3)

    // MARK: discovery

    static var legacyGroup: JSONValue {
        let v: JSONValue = ["groupVersion": .string(groupVersion), "version": .string(version)]
        return ["name": .string(group), "versions": [v], "preferredVersion": v]
    }

    /// As kube-apiserver's aggregator converts an adapter's APIResourceList: a parent `services` without a
    /// kind (clients drop it) holding the metric as a subresource.
    static func aggregatedItem() -> JSONValue {
        let resource: JSONValue = [
            "resource": "services", "responseKind": [:], "scope": "Namespaced",
            "subresources": [["subresource": .string(connectionsPerSecond),
                              "responseKind": ["group": "", "version": "", "kind": "MetricValueList"], "verbs": ["get"]]],
        ]
        return ["metadata": ["name": .string(group)],
                "versions": [["version": .string(version), "freshness": "Current", "resources": [resource]]]]
    }

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
             ["name": .string("services/" + connectionsPerSecond), "singularName": "", "namespaced": true,
              "kind": "MetricValueList", "verbs": ["get"]],
         ]]
    }

    // MARK: requests

    /// Answers a GET below `/apis/custom.metrics.k8s.io`; nil when the path is not ours.
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
        if rest.isEmpty { return Self.resourceList }
        guard rest.count == 5, rest[0] == "namespaces", rest[2] == "services" else { throw Router.notFound(path) }
        let namespace = rest[1], name = rest[3], metric = rest[4]
        guard metric == Self.connectionsPerSecond else {
            throw APIError(code: 404, reason: "NotFound",
                           message: "the server could not find the metric \(metric) for services",
                           details: StatusDetails(name: metric, group: Self.group, kind: "services"))
        }
        return try await connections(namespace: namespace, name: name == "*" ? nil : name, query: query)
    }

    private func connections(namespace: String, name: String?, query: Query) async throws -> JSONValue {
        let services: [JSONValue]
        if let name {
            // a missing Service is a NotFound Status, as for the object itself
            services = [try await proxy.object("services", namespace: namespace, name: name)]
        } else {
            var q: [String] = []
            if let ls = query["labelSelector"], !ls.isEmpty { q.append("labelSelector=" + QueryEscaping.escape(ls)) }
            services = try await list("services", namespace: namespace, query: Query(q.joined(separator: "&")))
        }
        var rates: [String: (perSecond: Double, window: Double)] = [:]
        if !services.isEmpty {
            let nodes = try await list("nodes", namespace: nil, query: Query(nil)).filter(Self.isReady)
            let docs = await proxy.fetchJSON("/stats/services", from: nodes, timeout: Self.fetchTimeout)
            for (_, doc) in docs {
                for s in doc["services"]?.arrayValue ?? [] {
                    guard s["namespace"]?.stringValue == namespace, let n = s["name"]?.stringValue else { continue }
                    let perSecond = Self.number(s["connectionsPerSecond"])
                    guard perSecond.isFinite, perSecond >= 0 else { continue }
                    let window = Self.number(s["windowSeconds"])
                    var r = rates[n] ?? (0, 0)
                    r.perSecond += perSecond
                    if window.isFinite { r.window = max(r.window, window) }
                    rates[n] = r
                }
            }
        }
        let now = Time.now().rfc3339
        let items: [JSONValue] = services.compactMap { svc in
            guard let n = svc.name else { return nil }
            let r = rates[n] ?? (0, 0)
            var item: [String: JSONValue] = [
                "describedObject": ["kind": "Service", "namespace": .string(namespace), "name": .string(n), "apiVersion": "/v1"],
                "metric": ["name": .string(Self.connectionsPerSecond)],
                "timestamp": .string(now),
                "value": .string(Self.quantity(r.perSecond)),
            ]
            if r.window >= 1 { item["windowSeconds"] = .int(Int64(min(r.window.rounded(), 1e9))) }
            return .object(item)
        }.sorted { ($0[path: ["describedObject", "name"]]?.stringValue ?? "") < ($1[path: ["describedObject", "name"]]?.stringValue ?? "") }
        return ["kind": "MetricValueList", "apiVersion": .string(Self.groupVersion), "metadata": [:], "items": .array(items)]
    }

    /// A rate as a Quantity in thousandths (`12.5` is `12500m`, `3` is `3`).
    static func quantity(_ perSecond: Double) -> String {
        let milli = (perSecond * 1000).rounded()
        guard milli.isFinite, milli >= 0 else { return "0" }
        return Quantity(milli: milli >= Double(Int64.max) ? Int64.max : Int64(milli)).description
    }

    static func number(_ v: JSONValue?) -> Double {
        switch v {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return 0
        }
    }

    static func isReady(_ node: JSONValue) -> Bool {
        (node[path: ["status", "conditions"]]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
        }
    }

    private func list(_ plural: String, namespace: String?, query: Query) async throws -> [JSONValue] {
        guard let kind = proxy.registry.lookup(group: "", version: "v1", plural: plural) else { return [] }
        let r = ResourcePath(kind: kind, namespace: namespace, name: nil, subresource: nil, legacyWatch: false)
        return try await proxy.handlers.list(r, query: query).items.compactMap(\.json)
    }
}
