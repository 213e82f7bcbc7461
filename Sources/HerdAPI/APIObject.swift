import Foundation

/// Where a kind is served and how discovery describes it.
public struct ResourceInfo: Sendable, Hashable {
    public var group: String          // "" for the core group
    public var version: String
    public var kind: String
    public var plural: String         // the resource name in URLs: "pods"
    public var singular: String       // "pod"
    public var namespaced: Bool
    public var shortNames: [String]
    public var categories: [String]
    /// Subresources served besides the main resource: "status", "scale", "binding", "log", "exec", ...
    public var subresources: [String]
    public var listKind: String { kind + "List" }
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// The store key prefix: /registry/<group-resource>/
    public var storePrefix: String { "/registry/" + (group.isEmpty ? plural : "\(plural).\(group)") + "/" }

    public init(group: String, version: String, kind: String, plural: String, singular: String, namespaced: Bool,
                shortNames: [String] = [], categories: [String] = [], subresources: [String] = []) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.singular = singular
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.categories = categories
        self.subresources = subresources
    }
}

/// A top-level API kind. Every kind the server serves conforms; the server works through this protocol and
/// never switches on concrete types.
public protocol APIObject: Codable, Sendable {
    static var resourceInfo: ResourceInfo { get }
    var apiVersion: String? { get set }
    var kind: String? { get set }
    var metadata: ObjectMeta { get set }

    /// Upstream defaulting (the defaults.go of the kind's group), applied on create and update.
    mutating func applyDefaults()
    /// Validation on create. Paths are rooted at the object ("spec.containers[0].name").
    func validate() -> [FieldError]
    /// Validation on update: `validate()` plus immutable fields compared with `old`.
    func validateUpdate(old: Self) -> [FieldError]

    /// kubectl's columns for `get` (server-side printing).
    static var tableColumns: [TableColumnDefinition] { get }
    /// One row's cells, in `tableColumns` order. `now` is used for AGE-like columns.
    func tableCells(now: Date) -> [JSONValue]

    /// Field-selector labels this kind supports beyond metadata.name and metadata.namespace,
    /// with their values for this object (e.g. "spec.nodeName", "status.phase").
    func selectableFields() -> [String: String]

    /// The top-level keys that belong to the status subresource (normally ["status"]); empty if none.
    static var statusFields: [String] { get }
}

extension APIObject {
    public mutating func applyDefaults() {}
    public func validate() -> [FieldError] { [] }
    public func validateUpdate(old: Self) -> [FieldError] { validate() }
    public static var tableColumns: [TableColumnDefinition] {
        [TableColumnDefinition(name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace."),
         TableColumnDefinition(name: "Age", type: "string", description: "CreationTimestamp is a timestamp representing the server time when this object was created.")]
    }
    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .string(Age.since(metadata.creationTimestamp, now: now))]
    }
    public func selectableFields() -> [String: String] { [:] }
    public static var statusFields: [String] { [] }
}

/// Kinds with a scale subresource (autoscaling/v1 Scale): Deployment, ReplicaSet, ReplicationController, ...
public protocol Scalable: APIObject {
    var specReplicas: Int32 { get set }
    var statusReplicas: Int32 { get }
    /// The label selector in string form ("app=web,tier in (a,b)"), for Scale.status.selector.
    var scaleSelector: String { get }
}

/// The list form of any kind: {"kind":"PodList","apiVersion":"v1","metadata":{...},"items":[...]}.
public struct ObjectList<T: APIObject>: Codable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ListMeta
    public var items: [T]
    public init(metadata: ListMeta = ListMeta(), items: [T]) {
        self.apiVersion = T.resourceInfo.apiVersion
        self.kind = T.resourceInfo.listKind
        self.metadata = metadata
        self.items = items
    }
}

/// kubectl's human-readable ages: "5s", "3m2s", "4h", "2d3h", "45d", "3y20d".
public enum Age {
    public static func since(_ t: Time?, now: Date) -> String {
        guard let t else { return "<unknown>" }
        return since(t.date, now: now)
    }

    /// How long ago `date` was at `now`. Every table cell that measures from `now` goes through here, so
    /// that a row computed at one of `TableRowTemplate.templateNows` can be rendered at any later time.
    public static func since(_ date: Date, now: Date) -> String {
        if now == TableRowTemplate.templateNows.0 || now == TableRowTemplate.templateNows.1 {
            return TableRowTemplate.placeholder(for: date)
        }
        return format(now.timeIntervalSince(date))
    }

    /// Mirrors k8s.io/apimachinery duration.HumanDuration.
    public static func format(_ interval: TimeInterval) -> String {
        let seconds = Int(interval)
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 60 * 2 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let s = seconds % 60
            return s == 0 ? "\(minutes)m" : "\(minutes)m\(s)s"
        }
        if minutes < 60 * 3 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 8 {
            let m = minutes % 60
            return m == 0 ? "\(hours)h" : "\(hours)h\(m)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let h = hours % 24
            return h == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(h)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let dy = (hours / 24) % 365
            return dy == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(dy)d"
        }
        return "\(hours / 24 / 365)y"
    }
}
