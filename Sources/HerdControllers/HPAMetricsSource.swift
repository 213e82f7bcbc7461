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
    /// `podResourceUsage` with each value's sample time and the time it covers (upstream PodMetric), which the
    /// controller needs for cpu: a pod's sample taken less than one window after it became ready is not used.
    func podResourceMetrics(_ resource: String, namespace: String, selector: String) async throws -> [String: PodMetric]
}

/// One pod's resource usage (milli-units) as the metrics API reported it.
public struct PodMetric: Sendable, Equatable {
    public var value: Int64
    /// When the usage was sampled; nil when the source does not say.
    public var timestamp: Date?
    /// The time the usage covers, seconds.
    public var window: TimeInterval
    public init(value: Int64, timestamp: Date? = nil, window: TimeInterval = 0) {
        self.value = value
        self.timestamp = timestamp
        self.window = window
    }
}

extension MetricsSource {
    /// A source that knows no sample times: every value as of now.
    public func podResourceMetrics(_ resource: String, namespace: String, selector: String) async throws -> [String: PodMetric] {
        try await podResourceUsage(resource, namespace: namespace, selector: selector).mapValues { PodMetric(value: $0) }
    }
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
        try await podResourceMetrics(resource, namespace: namespace, selector: selector).mapValues(\.value)
    }

    public func podResourceMetrics(_ resource: String, namespace: String, selector: String) async throws -> [String: PodMetric] {
        let doc = try await client.send(.GET, "/apis/metrics.k8s.io/v1beta1/namespaces/\(Self.segment(namespace))/pods",
                                        query: [("labelSelector", selector)]).json()
        var out: [String: PodMetric] = [:]
        for item in doc["items"]?.arrayValue ?? [] {
            guard let name = item[path: ["metadata", "name"]]?.stringValue else { continue }
            var total: Int64 = 0
            var seen = false
            for c in item["containers"]?.arrayValue ?? [] {
                guard let text = c[path: ["usage", resource]]?.stringValue, let q = Quantity(text) else { continue }
                total += q.milliValue
                seen = true
            }
            guard seen else { continue }
            let timestamp = item["timestamp"]?.stringValue.flatMap(RFC3339.parse)
            let window = item["window"]?.stringValue.flatMap(Self.seconds) ?? 0
            out[name] = PodMetric(value: total, timestamp: timestamp, window: window)
        }
        return out
    }

    /// A Go duration as metrics-server writes a window ("10s", "1m0s", "15.2s", "500ms"), in seconds.
    static func seconds(_ text: String) -> TimeInterval? {
        var total = 0.0
        var number = ""
        var unit = ""
        var parsed = false
        func flush() -> Bool {
            guard !number.isEmpty, let v = Double(number) else { return false }
            let scale: Double
            switch unit {
            case "h": scale = 3600
            case "m": scale = 60
            case "s": scale = 1
            case "ms": scale = 0.001
            case "us", "µs": scale = 0.000_001
            case "ns": scale = 0.000_000_001
            default: return false
            }
            total += v * scale
            number = ""
            unit = ""
            parsed = true
            return true
        }
        for ch in text {
            if ch.isNumber || ch == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(ch)
            } else {
                unit.append(ch)
            }
        }
        guard flush(), parsed else { return nil }
        return total
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
