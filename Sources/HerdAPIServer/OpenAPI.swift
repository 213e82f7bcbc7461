import HerdAPI

/// The OpenAPI v3 documents kubectl reads to decide that the server validates fields itself
/// (a PATCH operation per kind with x-kubernetes-group-version-kind and a fieldValidation parameter).
struct OpenAPIDocuments: Sendable {
    let registry: KindRegistry

    private static func gvPath(_ group: String, _ version: String) -> String {
        group.isEmpty ? "api/\(version)" : "apis/\(group)/\(version)"
    }

    private func hash(_ s: String) -> String {
        var h: UInt64 = 1469598103934665603
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return String(h, radix: 16, uppercase: true)
    }

    var index: JSONValue {
        var paths: [String: JSONValue] = [:]
        for g in registry.groups {
            for v in g.versions {
                let p = Self.gvPath(g.name, v)
                paths[p] = .object(["serverRelativeURL": .string("/openapi/v3/\(p)?hash=\(hash(p + "1"))")])
            }
        }
        return .object(["paths": .object(paths)])
    }

    private let queryParams: [JSONValue] = [
        ["name": "dryRun", "in": "query", "description": "When present, indicates that modifications should not be persisted.", "schema": ["type": "string", "uniqueItems": true]],
        ["name": "fieldManager", "in": "query", "description": "fieldManager is a name associated with the actor or entity that is making these changes.", "schema": ["type": "string", "uniqueItems": true]],
        ["name": "fieldValidation", "in": "query", "description": "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict.", "schema": ["type": "string", "uniqueItems": true]],
        ["name": "force", "in": "query", "description": "Force is going to \"force\" Apply requests.", "schema": ["type": "boolean", "uniqueItems": true]],
    ]

    func document(_ path: String) -> JSONValue? {
        guard let g = registry.groups.first(where: { grp in grp.versions.contains { Self.gvPath(grp.name, $0) == path } }),
              let v = g.versions.first(where: { Self.gvPath(g.name, $0) == path })
        else { return nil }
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [:]
        for k in registry.servedInfos where k.group == g.name && k.version == v {
            let gvk: JSONValue = ["group": .string(k.group), "version": .string(v), "kind": .string(k.kind)]
            let schemaName = "io.k8s.api.\(g.name.isEmpty ? "core" : g.name.split(separator: ".").first.map(String.init) ?? g.name).\(v).\(k.kind)"
            schemas[schemaName] = [
                "type": "object", "description": .string("\(k.kind) (served by herd)"),
                "x-kubernetes-group-version-kind": [gvk],
                "properties": ["apiVersion": ["type": "string"], "kind": ["type": "string"], "metadata": ["type": "object"]],
            ]
            let ref: JSONValue = ["$ref": .string("#/components/schemas/\(schemaName)")]
            let body: JSONValue = ["content": ["application/json": ["schema": ref]], "required": true]
            let resp: JSONValue = ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]]
            func op(_ action: String, _ id: String, body b: JSONValue? = nil) -> JSONValue {
                var o: [String: JSONValue] = [
                    "operationId": .string(id + k.kind), "x-kubernetes-action": .string(action),
                    "x-kubernetes-group-version-kind": gvk, "responses": resp, "parameters": .array(queryParams),
                ]
                if let b { o["requestBody"] = b }
                return .object(o)
            }
            // strategic-merge-patch+json is left out on purpose: these schemas carry no field structure, and
            // kubectl computes strategic patches from a PATCH operation that lists it. Without it kubectl falls
            // back to its compiled-in types, which know every merge key.
            let patchBody: JSONValue = ["content": [
                "application/json-patch+json": ["schema": ["type": "object"]],
                "application/merge-patch+json": ["schema": ["type": "object"]],
                "application/apply-patch+yaml": ["schema": ["type": "object"]],
            ], "required": true]
            let base = "/" + path + (k.namespaced ? "/namespaces/{namespace}/" : "/") + k.plural
            var params: [JSONValue] = [["name": "name", "in": "path", "required": true, "schema": ["type": "string"]]]
            if k.namespaced { params.append(["name": "namespace", "in": "path", "required": true, "schema": ["type": "string"]]) }
            paths[base] = ["post": op("post", "create", body: body), "get": op("list", "list")]
            paths[base + "/{name}"] = [
                "get": op("get", "read"), "put": op("put", "replace", body: body),
                "patch": op("patch", "patch", body: patchBody), "delete": op("delete", "delete"),
                "parameters": .array(params),
            ]
            for sub in k.subresources where sub == "status" || sub == "scale" {
                paths[base + "/{name}/" + sub] = [
                    "get": op("get", "read" + sub.capitalized), "put": op("put", "replace" + sub.capitalized, body: body),
                    "patch": op("patch", "patch" + sub.capitalized, body: patchBody), "parameters": .array(params),
                ]
            }
        }
        return [
            "openapi": "3.0.0",
            "info": ["title": "Kubernetes", "version": "v1.32.0"],
            "paths": .object(paths),
            "components": ["schemas": .object(schemas)],
        ]
    }
}

extension String {
    fileprivate var capitalized: String { prefix(1).uppercased() + dropFirst() }
}
