import Foundation
import HerdAPI

/// What the client asked to get back, from the Accept header.
struct ResponseFormat: Sendable {
    enum Encoding: Sendable { case json, yaml }
    var encoding: Encoding = .json
    /// `as=Table;g=meta.k8s.io;v=v1`: server-side printing.
    var table = false
    /// `as=PartialObjectMetadata(List)`.
    var partialMetadata = false
    /// `as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2`.
    var aggregatedDiscovery = false
    /// The apidiscovery.k8s.io version asked for: kubectl 1.30+ asks for v2, 1.27-1.29 for v2beta1.
    var discoveryVersion = "v2"
    var pretty = false

    init(accept: String?) {
        guard let accept, !accept.isEmpty else { return }
        // Take the first media range we can serve, in the client's order.
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let type = parts.first?.lowercased() else { continue }
            var params: [String: String] = [:]
            for p in parts.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { params[kv[0]] = kv[1] }
            }
            let enc: Encoding
            switch type {
            case "application/json", "*/*", "application/*", "application/json-seq": enc = .json
            case "application/yaml", "application/x-yaml", "text/yaml": enc = .yaml
            default: continue   // protobuf and others: fall through to the next range
            }
            if let kind = params["as"] {
                switch (kind, params["g"], params["v"]) {
                case ("Table", "meta.k8s.io", "v1"), ("Table", "meta.k8s.io", "v1beta1"): table = true
                case ("PartialObjectMetadata", "meta.k8s.io", _), ("PartialObjectMetadataList", "meta.k8s.io", _): partialMetadata = true
                case ("APIGroupDiscoveryList", "apidiscovery.k8s.io", "v2"), ("APIGroupDiscoveryList", "apidiscovery.k8s.io", "v2beta1"):
                    aggregatedDiscovery = true
                    discoveryVersion = params["v"] ?? "v2"
                default: continue
                }
            }
            encoding = enc
            return
        }
    }

    var contentType: String {
        if aggregatedDiscovery { return "application/json;g=apidiscovery.k8s.io;v=\(discoveryVersion);as=APIGroupDiscoveryList" }
        switch encoding {
        case .json: return "application/json"
        case .yaml: return "application/yaml"
        }
    }

    func encode(_ value: JSONValue) -> [UInt8] {
        switch encoding {
        case .json: return value.serialized()
        case .yaml: return Array(YAMLCodec.encode(value).utf8)
        }
    }
}

/// Parses a request body as the Content-Type says: JSON or YAML (one document). Duplicate keys are reported.
func decodeBody(_ bytes: [UInt8], contentType: String?, duplicates: inout [String]) throws -> JSONValue {
    let type = (contentType ?? "application/json").split(separator: ";").first.map {
        $0.trimmingCharacters(in: .whitespaces).lowercased()
    } ?? "application/json"
    switch type {
    case "application/json", "application/merge-patch+json", "application/json-patch+json",
        "application/strategic-merge-patch+json", "*/*", "":
        do {
            return try JSONValue.parse(bytes, duplicateKeys: &duplicates)
        } catch {
            throw APIError.badRequest("error decoding request body as JSON: \(error)")
        }
    case "application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml":
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw APIError.badRequest("request body is not valid UTF-8")
        }
        // JSON is YAML; parse JSON directly so numbers and duplicate keys keep JSON's rules.
        if let first = text.first(where: { !$0.isWhitespace }), first == "{" {
            if let v = try? JSONValue.parse(bytes, duplicateKeys: &duplicates) { return v }
        }
        let docs: [JSONValue]
        do {
            docs = try YAMLCodec.decodeDocuments(text)
        } catch {
            throw APIError.badRequest("error decoding request body as YAML: \(error)")
        }
        guard docs.count == 1 else {
            throw APIError.badRequest(docs.isEmpty ? "request body is empty" : "request body holds \(docs.count) YAML documents; send one")
        }
        return docs[0]
    case "application/vnd.kubernetes.protobuf":
        // kubectl 1.31+ sends typed-client bodies (create namespace|deployment|secret..., autoscale) this way
        do {
            return try KubernetesProtobuf.decode(bytes)
        } catch {
            switch error.reason {
            case .unsupportedKind: throw APIError.unsupportedMediaType(error.message)
            case .notProtobuf, .malformed: throw APIError.badRequest("error decoding request body as protobuf: \(error.message)")
            }
        }
    default:
        throw APIError.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
    }
}

/// meta/v1 PartialObjectMetadata of an object, as Table rows and metadata-only lists carry.
func partialMetadata(of object: JSONValue) -> JSONValue {
    .object(["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"] ?? .object([:])])
}

func statusJSON(_ status: Status) -> JSONValue {
    (try? JSONValueEncoder.encode(status)) ?? .object(["kind": "Status", "apiVersion": "v1", "status": "Failure"])
}
