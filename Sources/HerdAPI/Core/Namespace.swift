import Foundation

/// core/v1 Namespace.
public struct Namespace: APIObject, Hashable {
    public static let resourceInfo = ResourceInfo(
        group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false,
        shortNames: ["ns"], subresources: ["status", "finalize"])
    public static let statusFields = ["status"]

    public static let active = "Active"
    public static let terminating = "Terminating"
    /// The finalizer the namespace controller removes once the namespace's contents are gone.
    public static let kubernetesFinalizer = "kubernetes"
    /// The label every namespace carries with its own name (SetDefaults_Namespace).
    public static let nameLabel = "kubernetes.io/metadata.name"

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: NamespaceSpec?
    public var status: NamespaceStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: NamespaceSpec? = nil, status: NamespaceStatus? = nil) {
        self.apiVersion = Self.resourceInfo.apiVersion
        self.kind = Self.resourceInfo.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// SetDefaults_Namespace and SetDefaults_NamespaceStatus, plus the create strategy's "kubernetes" finalizer.
    /// The finalizer is added only while spec.finalizers is absent and the namespace is not being deleted, so
    /// the namespace controller's removal (an empty list) sticks across later updates.
    public mutating func applyDefaults() {
        apiVersion = Self.resourceInfo.apiVersion
        kind = Self.resourceInfo.kind
        if let name = metadata.name, !name.isEmpty {
            var labels = metadata.labels ?? [:]
            labels[Self.nameLabel] = name
            metadata.labels = labels
        }
        var s = spec ?? NamespaceSpec()
        if s.finalizers == nil, metadata.deletionTimestamp == nil { s.finalizers = [Self.kubernetesFinalizer] }
        spec = s
        var st = status ?? NamespaceStatus()
        if (st.phase ?? "").isEmpty { st.phase = Self.active }
        status = st
    }

    public func validate() -> [FieldError] {
        Validation.validateObjectMeta(metadata, namespaced: false, nameValidator: Validation.nameIsDNSLabel)
            + Self.validateFinalizers(spec?.finalizers, path: "spec.finalizers")
    }

    public func validateUpdate(old: Namespace) -> [FieldError] {
        var errs = Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
        errs += Self.validateFinalizers(spec?.finalizers, path: "spec.finalizers")
        return errs
    }

    /// Namespace spec finalizers: qualified names, and unprefixed ones must be standard ("kubernetes").
    static func validateFinalizers(_ finalizers: [String]?, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        for f in finalizers ?? [] {
            let msgs = Validation.isQualifiedName(f)
            errs += msgs.map { .invalid(path, f, $0) }
            if msgs.isEmpty, !f.contains("/"), f != kubernetesFinalizer {
                errs.append(.invalid(path, f, "name is neither a standard finalizer name nor is it fully qualified"))
            }
        }
        return errs
    }

    /// status.phase, plus the legacy "name" field upstream still accepts for namespaces.
    public func selectableFields() -> [String: String] { ["status.phase": status?.phase ?? "", "name": metadata.name ?? ""] }

    public static let tableColumns: [TableColumnDefinition] = [
        TableColumns.name,
        TableColumnDefinition(name: "Status", type: "string", description: "The status of the namespace"),
        TableColumns.age,
    ]

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .string(status?.phase ?? ""), .string(Age.since(metadata.creationTimestamp, now: now))]
    }
}
