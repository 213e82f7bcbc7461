import Foundation

/// core/v1 Secret. `data` values are base64 strings as on the wire; `stringData` is write-only and is folded
/// into `data` by `applyDefaults()` (upstream does it while converting v1 to the internal version).
public struct Secret: APIObject, Hashable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "Secret"
    public var metadata: ObjectMeta
    public var data: [String: String]?
    public var stringData: [String: String]?
    public var type: String?
    public var immutable: Bool?

    public init(metadata: ObjectMeta = ObjectMeta(), data: [String: String]? = nil,
                stringData: [String: String]? = nil, type: String? = nil, immutable: Bool? = nil) {
        self.metadata = metadata
        self.data = data
        self.stringData = stringData
        self.type = type
        self.immutable = immutable
    }

    public static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "Secret", plural: "secrets",
                                                  singular: "secret", namespaced: true)

    public static let typeOpaque = "Opaque"
    public static let typeServiceAccountToken = "kubernetes.io/service-account-token"
    public static let typeDockercfg = "kubernetes.io/dockercfg"
    public static let typeDockerConfigJSON = "kubernetes.io/dockerconfigjson"
    public static let typeBasicAuth = "kubernetes.io/basic-auth"
    public static let typeSSHAuth = "kubernetes.io/ssh-auth"
    public static let typeTLS = "kubernetes.io/tls"

    /// Decoded bytes of one `data` entry (nil if absent or not valid base64).
    public func value(_ key: String) -> Data? {
        data?[key].flatMap { Data(base64Encoded: $0) }
    }

    public mutating func applyDefaults() {
        if let stringData {
            var merged = data ?? [:]
            for (k, v) in stringData { merged[k] = Data(v.utf8).base64EncodedString() }
            data = merged
            self.stringData = nil
        }
        if type == nil || type == "" { type = Self.typeOpaque }
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        var total = 0
        let entries = data ?? [:]
        for key in entries.keys.sorted() {
            errs += Validation.configMapKey(key).map { .invalid(Workload.key("data", key), key, $0) }
            if let bytes = value(key) {
                total += bytes.count
            } else {
                errs.append(.invalid(Workload.key("data", key), "<secret contents redacted>", "illegal base64 data"))
            }
        }
        if total > maxConfigDataSize {
            errs.append(FieldError(.tooLong, "data", nil, "may not be more than \(maxConfigDataSize) bytes"))
        }
        switch type ?? Self.typeOpaque {
        case Self.typeServiceAccountToken:
            let key = "kubernetes.io/service-account.name"
            if (metadata.annotations?[key] ?? "").isEmpty {
                errs.append(.required(Workload.key("metadata.annotations", key)))
            }
        case Self.typeDockercfg:
            if entries[".dockercfg"] == nil { errs.append(.required(Workload.key("data", ".dockercfg"))) }
        case Self.typeDockerConfigJSON:
            if entries[".dockerconfigjson"] == nil { errs.append(.required(Workload.key("data", ".dockerconfigjson"))) }
        case Self.typeBasicAuth:
            if entries["username"] == nil && entries["password"] == nil {
                errs.append(.required(Workload.key("data", "username")))
                errs.append(.required(Workload.key("data", "password")))
            }
        case Self.typeSSHAuth:
            if entries["ssh-privatekey"] == nil { errs.append(.required(Workload.key("data", "ssh-privatekey"))) }
        case Self.typeTLS:
            if entries["tls.crt"] == nil { errs.append(.required(Workload.key("data", "tls.crt"))) }
            if entries["tls.key"] == nil { errs.append(.required(Workload.key("data", "tls.key"))) }
        default:
            break
        }
        return errs
    }

    public func validateUpdate(old: Secret) -> [FieldError] {
        var errs = validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
        errs += Workload.immutable(type ?? "", old.type ?? "", "type", type ?? "")
        if old.immutable == true {
            if immutable != true {
                errs.append(.forbidden("immutable", "field is immutable when `immutable` is set"))
            }
            if (data ?? [:]) != (old.data ?? [:]) {
                errs.append(.forbidden("data", "field is immutable when `immutable` is set"))
            }
        }
        return errs
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Type", type: "string", description: "Used to facilitate programmatic handling of secret data."),
         TableColumnDefinition(name: "Data", type: "string", description: "Data contains the secret data."),
         TableColumns.age]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .string(type ?? ""), .int(Int64(data?.count ?? 0)), Workload.age(metadata, now)]
    }

    public func selectableFields() -> [String: String] { ["type": type ?? ""] }
}
