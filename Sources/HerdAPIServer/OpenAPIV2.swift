import HerdAPI

/// The OpenAPI v2 document in the protobuf form (gnostic's openapi.v2.Document) that kubectl 1.27 and 1.28
/// fetch before every create/apply. It carries, per kind, a PATCH operation with the
/// x-kubernetes-group-version-kind extension and a fieldValidation query parameter: kubectl then leaves
/// validation to the server. No definitions are published, so kubectl falls back to its compiled-in types
/// for patch metadata.
struct OpenAPIV2Document: Sendable {
    let registry: KindRegistry

    /// A protobuf message under construction (wire types 0 and 2 are all this document needs).
    struct Message {
        var bytes: [UInt8] = []

        mutating func varint(_ v: UInt64) {
            var v = v
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7f) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }

        mutating func string(_ field: UInt64, _ s: String) {
            bytes(field, Array(s.utf8))
        }

        mutating func bytes(_ field: UInt64, _ b: [UInt8]) {
            varint(field << 3 | 2)
            varint(UInt64(b.count))
            self.bytes += b
        }

        mutating func message(_ field: UInt64, _ m: Message) { bytes(field, m.bytes) }

        mutating func bool(_ field: UInt64, _ b: Bool) {
            varint(field << 3)
            varint(b ? 1 : 0)
        }
    }

    private func queryParameter(_ name: String, _ description: String) -> Message {
        var q = Message()          // QueryParameterSubSchema
        q.string(2, "query")
        q.string(3, description)
        q.string(4, name)
        q.string(6, "string")
        q.bool(20, true)           // uniqueItems, as upstream publishes it
        var nb = Message()         // NonBodyParameter.query_parameter_sub_schema
        nb.message(3, q)
        var p = Message()          // Parameter.non_body_parameter
        p.message(2, nb)
        var item = Message()       // ParametersItem.parameter
        item.message(1, p)
        return item
    }

    private func patchOperation(_ k: ResourceInfo) -> Message {
        var op = Message()
        op.string(5, "patch\(k.group.split(separator: ".").first.map { String($0).capitalizedFirst } ?? "Core")\(k.version.capitalizedFirst)\(k.namespaced ? "Namespaced" : "")\(k.kind)")
        for ct in ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"] {
            op.string(7, ct)
        }
        op.message(8, queryParameter("dryRun", "When present, indicates that modifications should not be persisted."))
        op.message(8, queryParameter("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."))
        op.message(8, queryParameter("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields."))
        var resp = Message()       // Response
        resp.string(1, "OK")
        var rv = Message()         // ResponseValue.response
        rv.message(1, resp)
        var named = Message()      // NamedResponseValue
        named.string(1, "200")
        named.message(2, rv)
        var responses = Message()  // Responses.response_code
        responses.message(1, named)
        op.message(9, responses)
        var anyValue = Message()   // Any.yaml
        anyValue.string(2, "group: \"\(k.group)\"\nkind: \(k.kind)\nversion: \(k.version)\n")
        var ext = Message()        // NamedAny
        ext.string(1, "x-kubernetes-group-version-kind")
        ext.message(2, anyValue)
        op.message(13, ext)
        var action = Message()
        action.string(2, "patch\n")
        var actionExt = Message()
        actionExt.string(1, "x-kubernetes-action")
        actionExt.message(2, action)
        op.message(13, actionExt)
        return op
    }

    /// The serialized document.
    func encoded() -> [UInt8] {
        var doc = Message()
        doc.string(1, "2.0")
        var info = Message()
        info.string(1, "Kubernetes")
        info.string(2, "v1.32.0")
        doc.message(2, info)
        var paths = Message()
        for k in registry.servedInfos {
            let gv = k.group.isEmpty ? "/api/\(k.version)" : "/apis/\(k.group)/\(k.version)"
            let path = gv + (k.namespaced ? "/namespaces/{namespace}/" : "/") + k.plural + "/{name}"
            var item = Message()   // PathItem.patch
            item.message(8, patchOperation(k))
            var named = Message()  // NamedPathItem
            named.string(1, path)
            named.message(2, item)
            paths.message(2, named)
        }
        doc.message(8, paths)
        return doc.bytes
    }
}

extension String {
    fileprivate var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
