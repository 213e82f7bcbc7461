import Foundation
import HerdAPI

/// Small helpers over objects in JSONValue form.
extension JSONValue {
    var metadata: [String: JSONValue] {
        get { self["metadata"]?.objectValue ?? [:] }
        set { self["metadata"] = .object(newValue) }
    }
    var name: String? { self[path: ["metadata", "name"]]?.stringValue }
    var namespace: String? { self[path: ["metadata", "namespace"]]?.stringValue }
    var resourceVersion: String? { self[path: ["metadata", "resourceVersion"]]?.stringValue }
    var uid: String? { self[path: ["metadata", "uid"]]?.stringValue }
    var finalizers: [String] { self[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    var deletionTimestamp: String? { self[path: ["metadata", "deletionTimestamp"]]?.stringValue }

    mutating func setMeta(_ key: String, _ value: JSONValue?) {
        var m = metadata
        m[key] = value
        metadata = m
    }

    /// Everything but metadata, status-subresource fields and type info: what `generation` tracks.
    func specPart(statusFields: [String]) -> JSONValue {
        guard var o = objectValue else { return self }
        for k in ["metadata", "kind", "apiVersion"] + statusFields { o[k] = nil }
        return .object(o)
    }
}

enum NameGenerator {
    private static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
    /// upstream's SimpleNameGenerator: prefix (cut to fit 63 chars) plus 5 random characters.
    static func generate(_ base: String) -> String {
        let prefix = base.count > 58 ? String(base.prefix(58)) : base
        return prefix + String((0..<5).map { _ in alphabet.randomElement()! })
    }
}

/// Continue tokens: the revision the first page was read at and the last key returned.
struct ContinueToken: Codable {
    var rv: Int64
    var start: String

    func encoded() -> String {
        let json = JSONValue.object(["rv": .int(rv), "start": .string(start)]).serialized()
        return Data(json).base64EncodedString()
    }

    static func decode(_ s: String) throws -> ContinueToken {
        guard let data = Data(base64Encoded: s), let v = try? JSONValue.parse(Array(data)),
              let rv = v["rv"]?.intValue, let start = v["start"]?.stringValue
        else {
            throw APIError.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        }
        return ContinueToken(rv: rv, start: start)
    }
}

/// Pod QoS class as upstream computes it (from requests and limits of all containers).
func podQOSClass(_ pod: JSONValue) -> String {
    let spec = pod["spec"]
    let containers = (spec?["containers"]?.arrayValue ?? []) + (spec?["initContainers"]?.arrayValue ?? [])
    var anySet = false
    var guaranteed = true
    for c in containers {
        let requests = c[path: ["resources", "requests"]]?.objectValue ?? [:]
        let limits = c[path: ["resources", "limits"]]?.objectValue ?? [:]
        let relevant = ["cpu", "memory"]
        for r in relevant {
            let req = requests[r]?.stringValue
            let lim = limits[r]?.stringValue
            if req != nil || lim != nil { anySet = true }
            guard let lim, let limQ = Quantity(lim) else { guaranteed = false; continue }
            if let req, let reqQ = Quantity(req), reqQ != limQ { guaranteed = false }
            _ = limQ
        }
    }
    if !anySet { return "BestEffort" }
    return guaranteed ? "Guaranteed" : "Burstable"
}
