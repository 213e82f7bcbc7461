import Foundation
import HerdAPI
import HerdClient

/// Where the HPA controller reads its metrics (upstream metricsclient.MetricsClient). Values are
/// milli-units (millicores, milli-bytes, milli-connections per second), keyed by pod name for per-pod ones.
public protocol MetricsSource: Sendable {
    /// The usage of `resource` ("cpu", "memory") of every pod in `namespace` matching `selector`, summed over
    /// its containers.
    func podResourceUsage(_ resource: String, namespace: String, selector: String) async throws -> [String: Int64]
    /// A custom metric of every pod matching `selector`.
    func podsMetric(_ metric: String, namespace: String, selector: String) async throws -> [String: Int64]
    /// A custom metric describing one object (a Service's connections_per_second).
    func objectMetric(_ metric: String, namespace: String, object: CrossVersionObjectReference) async throws -> Int64
}

public enum MetricsSourceError: Error, CustomStringConvertible {
    case noValue(String)
    public var description: String {
        switch self { case .noValue(let what): return "no metrics returned from custom metrics API for \(what)" }
    }
}

/// The metrics APIs served by herd's API server: metrics.k8s.io/v1beta1 PodMetrics and
/// custom.metrics.k8s.io/v1beta2 MetricValueLists, read with raw GETs.
public struct APIMetricsSource: MetricsSource {
    let client: APIClient

    public init(client: APIClient) { self.client = client }

    public func podResourceUsage(_ resource: String, namespace: String, selector: String) async throws -> [String: Int64] {
        let doc = try await client.send(.GET, "/apis/metrics.k8s.io/v1beta1/namespaces/\(Self.segment(namespace))/pods",
                                        query: [("labelSelector", selector)]).json()
        var out: [String: Int64] = [:]
        for item in doc["items"]?.arrayValue ?? [] {
            guard let name = item[path: ["metadata", "name"]]?.stringValue else { continue }
            var total: Int64 = 0
            var seen = false
            for c in item["containers"]?.arrayValue ?? [] {
                guard let text = c[path: ["usage", resource]]?.stringValue, let q = Quantity(text) else { continue }
                total += q.milliValue
                seen = true
            }
            if seen { out[name] = total }
        }
        return out
    }

    public func podsMetric(_ metric: String, namespace: String, selector: String) async throws -> [String: Int64] {
        let doc = try await client.send(.GET, "/apis/custom.metrics.k8s.io/v1beta2/namespaces/\(Self.segment(namespace))/pods/*/\(Self.segment(metric))",
                                        query: [("labelSelector", selector)]).json()
        var out: [String: Int64] = [:]
        for item in doc["items"]?.arrayValue ?? [] {
            guard let name = item[path: ["describedObject", "name"]]?.stringValue,
                  let text = item["value"]?.stringValue, let q = Quantity(text) else { continue }
            out[name] = q.milliValue
        }
        return out
    }

    public func objectMetric(_ metric: String, namespace: String, object: CrossVersionObjectReference) async throws -> Int64 {
        let resource = Self.resource(of: object)
        let path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/\(Self.segment(namespace))/\(resource)/\(Self.segment(object.name ?? ""))/\(Self.segment(metric))"
        let doc = try await client.send(.GET, path).json()
        guard let text = doc["items"]?.arrayValue?.first?["value"]?.stringValue, let q = Quantity(text) else {
            throw MetricsSourceError.noValue("\(resource)/\(object.name ?? "") \(metric)")
        }
        return q.milliValue
    }

    /// The URL resource of a described object's kind: the plural of a built-in kind, else upstream's guess.
    static func resource(of ref: CrossVersionObjectReference) -> String {
        let kind = ref.kind ?? ""
        if let info = BuiltinKinds.all.first(where: { $0.resourceInfo.kind == kind })?.resourceInfo { return info.plural }
        return kind.lowercased() + "s"
    }

    static func segment(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? s
    }
}
