/// RFC 7386 JSON merge patch (`application/merge-patch+json`).
public enum JSONMergePatch {
    /// Applies `patch` to `target`: object members merge recursively, `null` deletes a member, and any
    /// non-object patch replaces the target as a whole.
    public static func apply(patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        var result: [String: JSONValue]
        if case .object(let t) = target { result = t } else { result = [:] }
        for (key, value) in p {
            if case .null = value {
                result.removeValue(forKey: key)
            } else {
                result[key] = apply(patch: value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }

    /// The merge patch that turns `from` into `to`. Because a merge patch cannot express a member set to
    /// `null` (null deletes), a `null` in `to` is written as a deletion, like upstream's CreateMergePatch.
    public static func create(from original: JSONValue, to modified: JSONValue) -> JSONValue {
        guard case .object(let o) = original, case .object(let m) = modified else { return modified }
        var patch: [String: JSONValue] = [:]
        for (key, mv) in m {
            guard let ov = o[key] else {
                patch[key] = mv
                continue
            }
            if ov == mv { continue }
            if case .object = ov, case .object = mv {
                let sub = create(from: ov, to: mv)
                if sub != .object([:]) { patch[key] = sub }
            } else {
                patch[key] = mv
            }
        }
        for key in o.keys where m[key] == nil {
            patch[key] = .null
        }
        return .object(patch)
    }
}
