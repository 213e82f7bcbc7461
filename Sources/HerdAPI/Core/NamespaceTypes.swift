import Foundation

// core/v1 types with upstream JSON names. Every field is optional so unset fields are omitted on encode.

public struct NamespaceSpec: Codable, Hashable, Sendable {
    public var finalizers: [String]?

    public init(finalizers: [String]? = nil) {
        self.finalizers = finalizers
    }
}

public struct NamespaceStatus: Codable, Hashable, Sendable {
    public var phase: String?
    public var conditions: [NamespaceCondition]?

    public init(phase: String? = nil, conditions: [NamespaceCondition]? = nil) {
        self.phase = phase
        self.conditions = conditions
    }
}

public struct NamespaceCondition: Codable, Hashable, Sendable {
    public var type: String?
    public var status: String?
    public var lastTransitionTime: Time?
    public var reason: String?
    public var message: String?

    public init(type: String? = nil, status: String? = nil, lastTransitionTime: Time? = nil, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}
