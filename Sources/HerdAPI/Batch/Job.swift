import Foundation

public struct PodFailurePolicyOnExitCodesRequirement: Codable, Hashable, Sendable {
    public var containerName: String?
    /// "In" or "NotIn".
    public var `operator`: String?
    public var values: [Int32]?
    public init(containerName: String? = nil, operator op: String, values: [Int32]) {
        self.containerName = containerName
        self.operator = op
        self.values = values
    }
}

public struct PodFailurePolicyOnPodConditionsPattern: Codable, Hashable, Sendable {
    public var type: String?
    public var status: String?
    public init(type: String, status: String? = nil) {
        self.type = type
        self.status = status
    }
}

public struct PodFailurePolicyRule: Codable, Hashable, Sendable {
    /// "FailJob", "FailIndex", "Ignore" or "Count".
    public var action: String?
    public var onExitCodes: PodFailurePolicyOnExitCodesRequirement?
    public var onPodConditions: [PodFailurePolicyOnPodConditionsPattern]?
    public init(action: String, onExitCodes: PodFailurePolicyOnExitCodesRequirement? = nil,
                onPodConditions: [PodFailurePolicyOnPodConditionsPattern]? = nil) {
        self.action = action
        self.onExitCodes = onExitCodes
        self.onPodConditions = onPodConditions
    }
}

public struct PodFailurePolicy: Codable, Hashable, Sendable {
    public var rules: [PodFailurePolicyRule]?
    public init(rules: [PodFailurePolicyRule]) { self.rules = rules }
}

public struct SuccessPolicyRule: Codable, Hashable, Sendable {
    public var succeededIndexes: String?
    public var succeededCount: Int32?
    public init(succeededIndexes: String? = nil, succeededCount: Int32? = nil) {
        self.succeededIndexes = succeededIndexes
        self.succeededCount = succeededCount
    }
}

public struct SuccessPolicy: Codable, Hashable, Sendable {
    public var rules: [SuccessPolicyRule]?
    public init(rules: [SuccessPolicyRule]) { self.rules = rules }
}

public struct JobSpec: Codable, Hashable, Sendable {
    public var parallelism: Int32?
    public var completions: Int32?
    public var activeDeadlineSeconds: Int64?
    public var podFailurePolicy: PodFailurePolicy?
    public var successPolicy: SuccessPolicy?
    public var backoffLimit: Int32?
    public var backoffLimitPerIndex: Int32?
    public var maxFailedIndexes: Int32?
    public var selector: LabelSelector?
    public var manualSelector: Bool?
    public var template: PodTemplateSpec?
    public var ttlSecondsAfterFinished: Int32?
    /// "NonIndexed" or "Indexed".
    public var completionMode: String?
    public var suspend: Bool?
    /// "TerminatingOrFailed" or "Failed".
    public var podReplacementPolicy: String?
    public var managedBy: String?

    public init(parallelism: Int32? = nil, completions: Int32? = nil, activeDeadlineSeconds: Int64? = nil,
                backoffLimit: Int32? = nil, selector: LabelSelector? = nil, manualSelector: Bool? = nil,
                template: PodTemplateSpec? = nil, ttlSecondsAfterFinished: Int32? = nil,
                completionMode: String? = nil, suspend: Bool? = nil, podFailurePolicy: PodFailurePolicy? = nil) {
        self.parallelism = parallelism
        self.completions = completions
        self.activeDeadlineSeconds = activeDeadlineSeconds
        self.backoffLimit = backoffLimit
        self.selector = selector
        self.manualSelector = manualSelector
        self.template = template
        self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
        self.completionMode = completionMode
        self.suspend = suspend
        self.podFailurePolicy = podFailurePolicy
    }
}

public struct UncountedTerminatedPods: Codable, Hashable, Sendable {
    public var succeeded: [String]?
    public var failed: [String]?
    public init(succeeded: [String]? = nil, failed: [String]? = nil) {
        self.succeeded = succeeded
        self.failed = failed
    }
}

public struct JobStatus: Codable, Hashable, Sendable {
    public var conditions: [JobCondition]?
    public var startTime: Time?
    public var completionTime: Time?
    public var active: Int32?
    public var succeeded: Int32?
    public var failed: Int32?
    public var terminating: Int32?
    public var completedIndexes: String?
    public var failedIndexes: String?
    public var uncountedTerminatedPods: UncountedTerminatedPods?
    public var ready: Int32?
    public init(conditions: [JobCondition]? = nil, startTime: Time? = nil, completionTime: Time? = nil,
                active: Int32? = nil, succeeded: Int32? = nil, failed: Int32? = nil, ready: Int32? = nil,
                uncountedTerminatedPods: UncountedTerminatedPods? = nil) {
        self.conditions = conditions
        self.startTime = startTime
        self.completionTime = completionTime
        self.active = active
        self.succeeded = succeeded
        self.failed = failed
        self.ready = ready
        self.uncountedTerminatedPods = uncountedTerminatedPods
    }
}

/// batch/v1 Job.
public struct Job: APIObject, Hashable {
    public var apiVersion: String? = "batch/v1"
    public var kind: String? = "Job"
    public var metadata: ObjectMeta
    public var spec: JobSpec?
    public var status: JobStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: JobSpec? = nil, status: JobStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "batch", version: "v1", kind: "Job", plural: "jobs",
                                                  singular: "job", namespaced: true, categories: ["all"],
                                                  subresources: ["status"])
    public static var statusFields: [String] { ["status"] }

    public static let controllerUIDLabel = "batch.kubernetes.io/controller-uid"
    public static let legacyControllerUIDLabel = "controller-uid"
    public static let jobNameLabel = "batch.kubernetes.io/job-name"
    public static let legacyJobNameLabel = "job-name"

    /// batch/v1 defaulting, plus the selector and pod labels upstream generates on create (the server sets
    /// metadata.uid before calling this). Generation runs before metadata.labels is defaulted from the
    /// template labels, which is what a GET upstream returns.
    public mutating func applyDefaults() {
        var s = spec ?? JobSpec()
        if s.completions == nil && s.parallelism == nil {
            s.completions = 1
            s.parallelism = 1
        }
        if s.parallelism == nil { s.parallelism = 1 }
        if s.backoffLimit == nil { s.backoffLimit = s.backoffLimitPerIndex != nil ? Int32.max : 6 }
        if s.manualSelector == nil { s.manualSelector = false }
        if s.manualSelector == false, let uid = metadata.uid, !uid.isEmpty, s.template != nil {
            var labels = s.template?.metadata?.labels ?? [:]
            let name = metadata.name ?? ""
            for key in [Job.legacyJobNameLabel, Job.jobNameLabel] where labels[key] == nil { labels[key] = name }
            for key in [Job.legacyControllerUIDLabel, Job.controllerUIDLabel] where labels[key] == nil { labels[key] = uid }
            var meta = s.template?.metadata ?? ObjectMeta()
            meta.labels = labels
            s.template?.metadata = meta
            var selector = s.selector ?? LabelSelector()
            var matchLabels = selector.matchLabels ?? [:]
            if matchLabels[Job.controllerUIDLabel] == nil { matchLabels[Job.controllerUIDLabel] = uid }
            selector.matchLabels = matchLabels
            s.selector = selector
        }
        if let labels = s.template?.metadata?.labels, (metadata.labels ?? [:]).isEmpty {
            metadata.labels = labels
        }
        if s.completionMode == nil { s.completionMode = "NonIndexed" }
        if s.suspend == nil { s.suspend = false }
        if var policy = s.podFailurePolicy {
            policy.rules = policy.rules?.map { rule in
                var r = rule
                r.onPodConditions = r.onPodConditions?.map { pattern in
                    var c = pattern
                    if (c.status ?? "").isEmpty { c.status = "True" }
                    return c
                }
                return r
            }
            s.podFailurePolicy = policy
        }
        if s.podReplacementPolicy == nil { s.podReplacementPolicy = s.podFailurePolicy != nil ? "Failed" : "TerminatingOrFailed" }
        s.template?.applyDefaults()
        spec = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let s = spec ?? JobSpec()
        if s.manualSelector != true, let selector = s.selector {
            let uid = metadata.uid ?? ""
            if uid.isEmpty { errs.append(.required("metadata.uid")) }
            if !Workload.matches(selector, [Job.controllerUIDLabel: uid, Job.legacyControllerUIDLabel: uid]) {
                errs.append(.invalid("spec.selector", selector.selectorString, "`selector` not auto-generated"))
            }
        }
        errs += Workload.nonNegative(s.parallelism, "spec.parallelism")
        errs += Workload.nonNegative(s.completions, "spec.completions")
        errs += Workload.nonNegative(s.activeDeadlineSeconds, "spec.activeDeadlineSeconds")
        errs += Workload.nonNegative(s.backoffLimit, "spec.backoffLimit")
        errs += Workload.nonNegative(s.ttlSecondsAfterFinished, "spec.ttlSecondsAfterFinished")
        if let mode = s.completionMode {
            if mode != "NonIndexed" && mode != "Indexed" {
                errs.append(.notSupported("spec.completionMode", mode, ["NonIndexed", "Indexed"]))
            }
            if mode == "Indexed" && s.completions == nil {
                errs.append(.required("spec.completions", "when completion mode is Indexed"))
            }
        }
        if let pr = s.podReplacementPolicy, pr != "TerminatingOrFailed" && pr != "Failed" {
            errs.append(.notSupported("spec.podReplacementPolicy", pr, ["Failed", "TerminatingOrFailed"]))
        }
        for (i, rule) in (s.podFailurePolicy?.rules ?? []).enumerated() {
            let p = "spec.podFailurePolicy.rules[\(i)]"
            let actions = ["Count", "FailIndex", "FailJob", "Ignore"]
            let action = rule.action ?? ""
            if !actions.contains(action) { errs.append(.notSupported(p + ".action", action, actions)) }
            if (rule.onExitCodes == nil) == (rule.onPodConditions == nil) {
                errs.append(.invalid(p, "", "specifying one of OnExitCodes and OnPodConditions is required"))
            }
            if let op = rule.onExitCodes.map({ $0.operator ?? "" }), op != "In" && op != "NotIn" {
                errs.append(.notSupported(p + ".onExitCodes.operator", op, ["In", "NotIn"]))
            }
        }
        errs += Workload.validateRequiredSelector(s.selector, path: "spec.selector", emptyMessage: nil)
        if let selector = s.selector, !Workload.matches(selector, s.template?.metadata?.labels ?? [:]) {
            errs.append(.invalid("spec.template.metadata.labels", TableColumns.formatLabels(s.template?.metadata?.labels),
                                 "`selector` does not match template `labels`"))
        }
        errs += Workload.validateTemplate(s.template, path: "spec.template", matchesSelector: nil,
                                          restartPolicies: ["OnFailure", "Never"], forbidDeadlineFor: nil)
        if s.podFailurePolicy != nil, s.template?.spec?.restartPolicy == "OnFailure" {
            errs.append(.invalid("spec.template.spec.restartPolicy", "OnFailure", "only \"Never\" is supported when podFailurePolicy is specified"))
        }
        return errs
    }

    public func validateUpdate(old: Job) -> [FieldError] {
        var errs = validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
        let s = spec ?? JobSpec(), o = old.spec ?? JobSpec()
        // Indexed jobs may scale completions together with parallelism (elastic indexed jobs).
        let elastic = s.completionMode == "Indexed" && s.completions == s.parallelism && o.completions == o.parallelism
        if !elastic {
            errs += Workload.immutable(s.completions, o.completions, "spec.completions", s.completions.map { "\($0)" } ?? "")
        }
        errs += Workload.immutable(s.selector, o.selector, "spec.selector", s.selector?.selectorString ?? "")
        errs += Workload.immutable(Job.comparableTemplate(s.template, old: o.template, oldJob: old), o.template,
                                   "spec.template")
        errs += Workload.immutable(s.completionMode, o.completionMode, "spec.completionMode", s.completionMode ?? "")
        errs += Workload.immutable(s.podFailurePolicy, o.podFailurePolicy, "spec.podFailurePolicy")
        errs += Workload.immutable(s.successPolicy, o.successPolicy, "spec.successPolicy")
        errs += Workload.immutable(s.backoffLimitPerIndex, o.backoffLimitPerIndex, "spec.backoffLimitPerIndex")
        errs += Workload.immutable(s.managedBy, o.managedBy, "spec.managedBy", s.managedBy ?? "")
        return errs
    }

    /// The new template with the fields a suspended, never-started job may change copied from the old one,
    /// so that comparing it with the old template checks only the immutable rest.
    static func comparableTemplate(_ new: PodTemplateSpec?, old: PodTemplateSpec?, oldJob: Job) -> PodTemplateSpec? {
        guard oldJob.spec?.suspend == true, oldJob.status?.startTime == nil, var t = new, let old else { return new }
        var meta = t.metadata ?? ObjectMeta()
        meta.labels = old.metadata?.labels
        meta.annotations = old.metadata?.annotations
        t.metadata = meta
        if var spec = t.spec {
            spec.nodeSelector = old.spec?.nodeSelector
            spec.tolerations = old.spec?.tolerations
            spec.affinity = old.spec?.affinity
            spec.schedulingGates = old.spec?.schedulingGates
            t.spec = spec
        }
        return t
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Status", type: "string", description: "Status of the job."),
         TableColumnDefinition(name: "Completions", type: "string", description: "The number of pods which reached phase Succeeded."),
         TableColumnDefinition(name: "Duration", type: "string", description: "Time required to complete the job."),
         TableColumns.age, Workload.containersColumn, Workload.imagesColumn,
         Workload.selectorColumn("A label query over pods that should match the pod count.")]
    }

    /// Running, Complete, Failed, Terminating, Suspended, FailureTarget or SuccessCriteriaMet, as kubectl.
    public var statusText: String {
        let conditions = status?.conditions ?? []
        if conditions.isTrue("Complete") { return "Complete" }
        if conditions.isTrue("Failed") { return "Failed" }
        if metadata.deletionTimestamp != nil { return "Terminating" }
        if conditions.isTrue("Suspended") { return "Suspended" }
        if conditions.isTrue("FailureTarget") { return "FailureTarget" }
        if conditions.isTrue("SuccessCriteriaMet") { return "SuccessCriteriaMet" }
        return "Running"
    }

    public func tableCells(now: Date) -> [JSONValue] {
        let succeeded = status?.succeeded ?? 0
        let completions: String
        if let c = spec?.completions {
            completions = "\(succeeded)/\(c)"
        } else if let p = spec?.parallelism, p > 1 {
            completions = "\(succeeded)/1 of \(p)"
        } else {
            completions = "\(succeeded)/1"
        }
        var duration = ""
        if let start = status?.startTime {
            if let end = status?.completionTime?.date {
                duration = Age.format(end.timeIntervalSince(start.date))
            } else {
                duration = Age.since(start.date, now: now)
            }
        }
        return [.string(metadata.name ?? ""), .string(statusText), .string(completions), .string(duration),
                Workload.age(metadata, now)]
            + Workload.containerCells(spec?.template) + [.string(spec?.selector?.selectorString ?? "")]
    }
}
