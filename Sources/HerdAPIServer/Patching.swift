import Foundation
import HerdAPI

/// The server's use of the patch engine in HerdAPI (Patch/): patch types, server-side apply, managedFields.
enum Patching {
    static func schema(for kind: any ServedKind) -> PatchSchema? {
        PatchSchema.forKind(group: kind.info.group, kind: kind.info.kind)
    }

    static func decodeManagedFields(_ v: JSONValue?) -> [ManagedFieldsEntry] {
        guard let v else { return [] }
        return (try? JSONValueDecoder.decode([ManagedFieldsEntry].self, from: v).value) ?? []
    }

    static func encodeManagedFields(_ entries: [ManagedFieldsEntry]) -> JSONValue? {
        entries.isEmpty ? nil : (try? JSONValueEncoder.encode(entries))
    }

    static func jsonPatch(_ patch: JSONValue, to doc: JSONValue) throws -> JSONValue {
        do { return try JSONPatch.apply(patch, to: doc) } catch {
            throw apiError(error)
        }
    }

    static func mergePatch(_ patch: JSONValue, to doc: JSONValue) throws -> JSONValue {
        guard patch.isObject else {
            throw APIError.badRequest("a merge patch must be a JSON object")
        }
        return JSONMergePatch.apply(patch: patch, to: doc)
    }

    static func strategicPatch(_ patch: JSONValue, to doc: JSONValue, kind: any ServedKind, scale: Bool) throws -> JSONValue {
        guard patch.isObject else {
            throw APIError.badRequest("a strategic merge patch must be a JSON object")
        }
        let s: PatchSchema = scale ? (PatchSchema.forKind(group: "autoscaling", kind: "Scale") ?? .any) : (schema(for: kind) ?? .any)
        do { return try StrategicMergePatch.apply(patch: patch, to: doc, schema: s) } catch {
            throw apiError(error)
        }
    }

    static func apiError(_ e: PatchError) -> APIError {
        e.statusCode == 400 ? APIError.badRequest(e.message) : APIError(code: 422, reason: "Invalid", message: e.message)
    }

    /// managedFields after an ordinary write by `manager`.
    static func managedFieldsForUpdate(old: JSONValue?, new: JSONValue, existing: [ManagedFieldsEntry], manager: String,
                                       kind: any ServedKind, subresource: String?) -> JSONValue? {
        guard let s = schema(for: kind) else { return nil }
        let entries = ServerSideApply.updateManagedFields(
            old: old, new: new, manager: manager, operation: "Update", managedFields: existing, schema: s,
            apiVersion: kind.info.apiVersion, now: Time.now(), subresource: subresource,
            hasStatusSubresource: !kind.statusFields.isEmpty)
        return encodeManagedFields(entries)
    }

    /// Server-side apply of `applied` onto `current` (nil: the object does not exist yet).
    static func serverSideApply(_ applied: JSONValue, to current: JSONValue?, manager: String, force: Bool,
                                kind: any ServedKind, subresource: String?) throws -> JSONValue {
        let s = schema(for: kind) ?? .any
        let existing = decodeManagedFields(current?.metadata["managedFields"])
        do {
            let (object, managed) = try ServerSideApply.apply(
                current: current, applied: applied, manager: manager, force: force, managedFields: existing, schema: s,
                apiVersion: kind.info.apiVersion, now: Time.now(), subresource: subresource,
                hasStatusSubresource: !kind.statusFields.isEmpty)
            var out = object
            out.setMeta("managedFields", encodeManagedFields(managed))
            return out
        } catch {
            throw conflictError(error, kind: kind, name: applied.name ?? "")
        }
    }

    static func conflictError(_ e: ApplyError, kind: any ServedKind, name: String) -> APIError {
        switch e {
        case .conflicts(let list):
            let causes = list.map { StatusCause(reason: "FieldManagerConflict", message: $0.causeMessage, field: $0.field) }
            return APIError(code: 409, reason: "Conflict", message: e.message,
                            details: StatusDetails(name: name, group: kind.info.group.isEmpty ? nil : kind.info.group, kind: kind.info.plural, causes: causes))
        case .invalid(let message):
            return APIError.badRequest(message)
        }
    }
}
