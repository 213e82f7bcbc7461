import Foundation

/// core/v1 Pod.
public struct Pod: APIObject, Hashable {
    public static let resourceInfo = ResourceInfo(
        group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod", namespaced: true,
        shortNames: ["po"], categories: ["all"],
        subresources: ["status", "binding", "log", "exec", "attach", "portforward", "eviction"])
    public static let statusFields = ["status"]

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: PodStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: PodSpec? = nil, status: PodStatus? = nil) {
        self.apiVersion = Self.resourceInfo.apiVersion
        self.kind = Self.resourceInfo.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public func selectableFields() -> [String: String] {
        [
            "spec.nodeName": spec?.nodeName ?? "",
            "spec.restartPolicy": spec?.restartPolicy ?? "",
            "spec.schedulerName": spec?.schedulerName ?? "",
            "spec.serviceAccountName": spec?.serviceAccountName ?? "",
            "spec.hostNetwork": (spec?.hostNetwork ?? false) ? "true" : "false",
            "status.phase": status?.phase ?? "",
            "status.podIP": status?.podIP ?? "",
            "status.nominatedNodeName": status?.nominatedNodeName ?? "",
        ]
    }
}

/// The pod part of a workload (Deployment, ReplicaSet, Job, ...): labels and annotations plus a PodSpec.
public struct PodTemplateSpec: Codable, Hashable, Sendable {
    public var metadata: ObjectMeta?
    public var spec: PodSpec?

    public init(metadata: ObjectMeta? = nil, spec: PodSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// core/v1 PodTemplate: a stored, named PodTemplateSpec.
public struct PodTemplate: APIObject, Hashable {
    public static let resourceInfo = ResourceInfo(
        group: "", version: "v1", kind: "PodTemplate", plural: "podtemplates", singular: "podtemplate",
        namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var template: PodTemplateSpec?

    public init(metadata: ObjectMeta = ObjectMeta(), template: PodTemplateSpec? = nil) {
        self.apiVersion = Self.resourceInfo.apiVersion
        self.kind = Self.resourceInfo.kind
        self.metadata = metadata
        self.template = template
    }
}

/// Pod phases (status.phase).
public enum PodPhase {
    public static let pending = "Pending"
    public static let running = "Running"
    public static let succeeded = "Succeeded"
    public static let failed = "Failed"
    public static let unknown = "Unknown"
}

/// Pod condition types (status.conditions[].type).
public enum PodConditionType {
    public static let podScheduled = "PodScheduled"
    public static let podReadyToStartContainers = "PodReadyToStartContainers"
    public static let initialized = "Initialized"
    public static let containersReady = "ContainersReady"
    public static let ready = "Ready"
    public static let disruptionTarget = "DisruptionTarget"
}

/// Condition statuses shared by every kind's conditions.
public enum ConditionStatus {
    public static let `true` = "True"
    public static let `false` = "False"
    public static let unknown = "Unknown"
}

public enum RestartPolicy {
    public static let always = "Always"
    public static let onFailure = "OnFailure"
    public static let never = "Never"
}

public enum DNSPolicy {
    public static let clusterFirstWithHostNet = "ClusterFirstWithHostNet"
    public static let clusterFirst = "ClusterFirst"
    public static let `default` = "Default"
    public static let none = "None"
}

public enum PullPolicy {
    public static let always = "Always"
    public static let never = "Never"
    public static let ifNotPresent = "IfNotPresent"
}

public enum TaintEffect {
    public static let noSchedule = "NoSchedule"
    public static let preferNoSchedule = "PreferNoSchedule"
    public static let noExecute = "NoExecute"
}

public enum QOSClass {
    public static let guaranteed = "Guaranteed"
    public static let burstable = "Burstable"
    public static let bestEffort = "BestEffort"
}

extension Pod {
    /// The status a new pod starts with (upstream's create strategy): Pending with its QoS class, and a
    /// PodScheduled=False SchedulingGated condition while scheduling gates remain.
    public var initialStatus: PodStatus {
        let s = spec ?? PodSpec()
        var status = PodStatus(phase: PodPhase.pending, qosClass: s.qosClass)
        if !(s.schedulingGates ?? []).isEmpty {
            status.conditions = [PodCondition(type: PodConditionType.podScheduled, status: ConditionStatus.false,
                                              reason: "SchedulingGated",
                                              message: "Scheduling is blocked due to non-empty scheduling gates")]
        }
        return status
    }

    /// Whether status.conditions has Ready=True.
    public var isReady: Bool {
        status?.conditions?.contains { $0.type == PodConditionType.ready && $0.status == ConditionStatus.true } ?? false
    }

    /// Succeeded or Failed: the pod will not run again.
    public var isTerminal: Bool {
        status?.phase == PodPhase.succeeded || status?.phase == PodPhase.failed
    }
}

extension PodSpec {
    /// Upstream GetPodQOS: Guaranteed when every container sets equal cpu and memory limits and requests,
    /// BestEffort when none sets any, Burstable otherwise. Meant for defaulted pods, whose requests have been
    /// filled in from their limits.
    public var qosClass: String {
        var requests: [String: Quantity] = [:]
        var limits: [String: Quantity] = [:]
        var isGuaranteed = true
        let computeResources: Set<String> = ["cpu", "memory"]
        for c in (containers ?? []) + (initContainers ?? []) {
            let req = c.resources?.requests ?? [:]
            let lim = c.resources?.limits ?? [:]
            for (name, q) in req where computeResources.contains(name) && !q.isZero {
                requests[name, default: Quantity(nanos: 0)] += q
            }
            var seenLimits = Set<String>()
            for (name, q) in lim where computeResources.contains(name) && !q.isZero {
                seenLimits.insert(name)
                limits[name, default: Quantity(nanos: 0)] += q
            }
            if seenLimits != computeResources { isGuaranteed = false }
        }
        if requests.isEmpty && limits.isEmpty { return QOSClass.bestEffort }
        if isGuaranteed {
            for (name, r) in requests where limits[name] != r { isGuaranteed = false }
        }
        return isGuaranteed && requests.count == limits.count ? QOSClass.guaranteed : QOSClass.burstable
    }
}
