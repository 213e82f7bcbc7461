import Foundation

// meta/v1 types shared by every kind.

public struct ObjectMeta: Codable, Hashable, Sendable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var selfLink: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: Time?
    public var deletionTimestamp: Time?
    public var deletionGracePeriodSeconds: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?
    public var managedFields: [ManagedFieldsEntry]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
                annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

extension ObjectMeta {
    private enum CodingKeys: String, CodingKey {
        case name, generateName, namespace, selfLink, uid, resourceVersion, generation, creationTimestamp,
             deletionTimestamp, deletionGracePeriodSeconds, labels, annotations, ownerReferences, finalizers,
             managedFields
    }

    /// Go's `omitempty`: an empty map or list is not written at all (a patch that removes the last owner
    /// reference or finalizer leaves no `[]` behind).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(generateName, forKey: .generateName)
        try c.encodeIfPresent(namespace, forKey: .namespace)
        try c.encodeIfPresent(selfLink, forKey: .selfLink)
        try c.encodeIfPresent(uid, forKey: .uid)
        try c.encodeIfPresent(resourceVersion, forKey: .resourceVersion)
        try c.encodeIfPresent(generation, forKey: .generation)
        try c.encodeIfPresent(creationTimestamp, forKey: .creationTimestamp)
        try c.encodeIfPresent(deletionTimestamp, forKey: .deletionTimestamp)
        try c.encodeIfPresent(deletionGracePeriodSeconds, forKey: .deletionGracePeriodSeconds)
        if let labels, !labels.isEmpty { try c.encode(labels, forKey: .labels) }
        if let annotations, !annotations.isEmpty { try c.encode(annotations, forKey: .annotations) }
        if let ownerReferences, !ownerReferences.isEmpty { try c.encode(ownerReferences, forKey: .ownerReferences) }
        if let finalizers, !finalizers.isEmpty { try c.encode(finalizers, forKey: .finalizers) }
        if let managedFields, !managedFields.isEmpty { try c.encode(managedFields, forKey: .managedFields) }
    }
}

public struct OwnerReference: Codable, Hashable, Sendable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?
    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil,
                blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

public struct ManagedFieldsEntry: Codable, Hashable, Sendable {
    public var manager: String?
    public var operation: String?
    public var apiVersion: String?
    public var time: Time?
    public var fieldsType: String?
    public var fieldsV1: JSONValue?
    public var subresource: String?
    public init(manager: String? = nil, operation: String? = nil, apiVersion: String? = nil, time: Time? = nil,
                fieldsType: String? = nil, fieldsV1: JSONValue? = nil, subresource: String? = nil) {
        self.manager = manager
        self.operation = operation
        self.apiVersion = apiVersion
        self.time = time
        self.fieldsType = fieldsType
        self.fieldsV1 = fieldsV1
        self.subresource = subresource
    }
}

public struct ListMeta: Codable, Hashable, Sendable {
    public var resourceVersion: String?
    public var `continue`: String?
    public var remainingItemCount: Int64?
    public var selfLink: String?
    public init(resourceVersion: String? = nil, continue c: String? = nil, remainingItemCount: Int64? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = c
        self.remainingItemCount = remainingItemCount
    }
}

public struct LabelSelector: Codable, Hashable, Sendable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [LabelSelectorRequirement]?
    public init(matchLabels: [String: String]? = nil, matchExpressions: [LabelSelectorRequirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }
}

public struct LabelSelectorRequirement: Codable, Hashable, Sendable {
    public var key: String
    public var `operator`: String
    public var values: [String]?
    public init(key: String, operator op: String, values: [String]? = nil) {
        self.key = key
        self.operator = op
        self.values = values
    }
}

public struct Status: Codable, Hashable, Sendable {
    public var kind: String? = "Status"
    public var apiVersion: String? = "v1"
    public var metadata: ListMeta? = ListMeta()
    public var status: String?
    public var message: String?
    public var reason: String?
    public var details: StatusDetails?
    public var code: Int?
    public init(status: String? = nil, message: String? = nil, reason: String? = nil, details: StatusDetails? = nil,
                code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }
}

public struct StatusDetails: Codable, Hashable, Sendable {
    public var name: String?
    public var group: String?
    public var kind: String?
    public var uid: String?
    public var causes: [StatusCause]?
    public var retryAfterSeconds: Int?
    public init(name: String? = nil, group: String? = nil, kind: String? = nil, uid: String? = nil,
                causes: [StatusCause]? = nil, retryAfterSeconds: Int? = nil) {
        self.name = name
        self.group = group
        self.kind = kind
        self.uid = uid
        self.causes = causes
        self.retryAfterSeconds = retryAfterSeconds
    }
}

public struct StatusCause: Codable, Hashable, Sendable {
    public var reason: String?
    public var message: String?
    public var field: String?
    public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
    }
}

/// The body of DELETE requests (meta/v1 DeleteOptions).
public struct DeleteOptions: Codable, Hashable, Sendable {
    public var kind: String?
    public var apiVersion: String?
    public var gracePeriodSeconds: Int64?
    public var propagationPolicy: String?
    public var orphanDependents: Bool?
    public var preconditions: Preconditions?
    public var dryRun: [String]?
    public init(gracePeriodSeconds: Int64? = nil, propagationPolicy: String? = nil) {
        self.gracePeriodSeconds = gracePeriodSeconds
        self.propagationPolicy = propagationPolicy
    }
}

public struct Preconditions: Codable, Hashable, Sendable {
    public var uid: String?
    public var resourceVersion: String?
}

public struct TableColumnDefinition: Codable, Hashable, Sendable {
    public var name: String
    public var type: String
    public var format: String
    public var description: String
    public var priority: Int
    public init(name: String, type: String = "string", format: String = "", description: String = "",
                priority: Int = 0) {
        self.name = name
        self.type = type
        self.format = format
        self.description = description
        self.priority = priority
    }
}

public struct TableRow: Codable, Hashable, Sendable {
    public var cells: [JSONValue]
    public var object: JSONValue?
    public init(cells: [JSONValue], object: JSONValue? = nil) {
        self.cells = cells
        self.object = object
    }
}

public struct Table: Codable, Hashable, Sendable {
    public var kind: String = "Table"
    public var apiVersion: String = "meta.k8s.io/v1"
    public var metadata: ListMeta
    public var columnDefinitions: [TableColumnDefinition]?
    public var rows: [TableRow]
    public init(metadata: ListMeta, columnDefinitions: [TableColumnDefinition]?, rows: [TableRow]) {
        self.metadata = metadata
        self.columnDefinitions = columnDefinitions
        self.rows = rows
    }
}

public struct PartialObjectMetadata: Codable, Hashable, Sendable {
    public var kind: String = "PartialObjectMetadata"
    public var apiVersion: String = "meta.k8s.io/v1"
    public var metadata: ObjectMeta
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

public struct WatchEvent: Codable, Hashable, Sendable {
    public var type: String
    public var object: JSONValue
    public init(type: String, object: JSONValue) {
        self.type = type
        self.object = object
    }
}
