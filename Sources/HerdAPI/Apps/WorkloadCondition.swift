import Foundation

/// The condition shape shared by the controller kinds. Upstream has one type per kind (DeploymentCondition
/// with lastUpdateTime, JobCondition with lastProbeTime, ...); unset fields are omitted, so one struct
/// serialises exactly like each of them.
public struct WorkloadCondition: Codable, Hashable, Sendable {
    public var type: String?
    public var status: String?
    public var lastUpdateTime: Time?
    public var lastProbeTime: Time?
    public var lastTransitionTime: Time?
    public var reason: String?
    public var message: String?
    public init(type: String, status: String, lastUpdateTime: Time? = nil, lastProbeTime: Time? = nil,
                lastTransitionTime: Time? = nil, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.lastUpdateTime = lastUpdateTime
        self.lastProbeTime = lastProbeTime
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}

public typealias DeploymentCondition = WorkloadCondition
public typealias ReplicaSetCondition = WorkloadCondition
public typealias ReplicationControllerCondition = WorkloadCondition
public typealias DaemonSetCondition = WorkloadCondition
public typealias StatefulSetCondition = WorkloadCondition
public typealias JobCondition = WorkloadCondition
public typealias HorizontalPodAutoscalerCondition = WorkloadCondition

extension Array where Element == WorkloadCondition {
    /// Whether a condition of this type has status "True".
    public func isTrue(_ type: String) -> Bool {
        contains { $0.type == type && $0.status == "True" }
    }
}
