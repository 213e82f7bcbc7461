import Foundation

/// The size limit upstream puts on ConfigMap and Secret payloads (1 MiB).
let maxConfigDataSize = 1024 * 1024

/// core/v1 ConfigMap.
public struct ConfigMap: APIObject, Hashable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "ConfigMap"
    public var metadata: ObjectMeta
    public var data: [String: String]?
    /// Values are base64 in JSON.
    public var binaryData: [String: String]?
    public var immutable: Bool?

    public init(metadata: ObjectMeta = ObjectMeta(), data: [String: String]? = nil,
                binaryData: [String: String]? = nil, immutable: Bool? = nil) {
        self.metadata = metadata
        self.data = data
        self.binaryData = binaryData
        self.immutable = immutable
    }

    public static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps",
                                                  singular: "configmap", namespaced: true, shortNames: ["cm"])

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        var total = 0
        for key in (data ?? [:]).keys.sorted() {
            errs += Validation.configMapKey(key).map { .invalid(Workload.key("data", key), key, $0) }
            total += data?[key]?.utf8.count ?? 0
        }
        for key in (binaryData ?? [:]).keys.sorted() {
            errs += Validation.configMapKey(key).map { .invalid(Workload.key("binaryData", key), key, $0) }
            if data?[key] != nil {
                errs.append(.invalid(Workload.key("data", key), key, "duplicate of key present in binaryData"))
            }
            total += Data(base64Encoded: binaryData?[key] ?? "")?.count ?? 0
        }
        if total > maxConfigDataSize {
            errs.append(FieldError(.tooLong, "", nil, "may not be more than \(maxConfigDataSize) bytes"))
        }
        return errs
    }

    public func validateUpdate(old: ConfigMap) -> [FieldError] {
        var errs = validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
        if old.immutable == true {
            if immutable != true {
                errs.append(.forbidden("immutable", "field is immutable when `immutable` is set"))
            }
            if (data ?? [:]) != (old.data ?? [:]) {
                errs.append(.forbidden("data", "field is immutable when `immutable` is set"))
            }
            if (binaryData ?? [:]) != (old.binaryData ?? [:]) {
                errs.append(.forbidden("binaryData", "field is immutable when `immutable` is set"))
            }
        }
        return errs
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Data", type: "string", description: "Data contains the configuration data."),
         TableColumns.age]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .int(Int64((data?.count ?? 0) + (binaryData?.count ?? 0))), Workload.age(metadata, now)]
    }
}
