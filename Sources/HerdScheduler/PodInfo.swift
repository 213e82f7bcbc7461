import HerdAPI
import HerdClient

/// A pod-affinity term with its selector parsed and its namespaces resolved.
public struct AffinityTerm: Sendable, Hashable {
    /// nil: every namespace (an empty `namespaceSelector`).
    public var namespaces: Set<String>?
    public var selector: LabelSelectorExpression
    public var topologyKey: String

    /// Upstream's rules: no namespaces and no namespaceSelector means the pod's own namespace; an empty
    /// namespaceSelector means all namespaces. A namespaceSelector with requirements would need namespace labels,
    /// which herd's scheduler does not watch; such a term applies to the listed namespaces only (or the pod's own).
    init(_ term: PodAffinityTerm, podNamespace: String, podLabels: [String: String]) {
        let listed = Set(term.namespaces ?? [])
        if let nsSel = term.namespaceSelector, (nsSel.matchLabels ?? [:]).isEmpty, (nsSel.matchExpressions ?? []).isEmpty {
            namespaces = nil
        } else {
            namespaces = listed.isEmpty ? [podNamespace] : listed
        }
        var sel: LabelSelectorExpression
        if let ls = term.labelSelector {
            sel = (try? LabelSelectorExpression(ls)) ?? .nothing
        } else {
            sel = .nothing  // a nil selector matches no pods (upstream)
        }
        sel = Self.adding(keys: term.matchLabelKeys, op: .in, from: podLabels, to: sel, usable: term.labelSelector != nil)
        sel = Self.adding(keys: term.mismatchLabelKeys, op: .notIn, from: podLabels, to: sel, usable: term.labelSelector != nil)
        selector = sel
        topologyKey = term.topologyKey ?? ""
    }

    public init(namespaces: Set<String>?, selector: LabelSelectorExpression, topologyKey: String) {
        self.namespaces = namespaces
        self.selector = selector
        self.topologyKey = topologyKey
    }

    /// matchLabelKeys / mismatchLabelKeys: `key in (value)` / `key notin (value)` with the pod's own value.
    static func adding(keys: [String]?, op: LabelRequirement.Operator, from labels: [String: String],
                       to sel: LabelSelectorExpression, usable: Bool) -> LabelSelectorExpression {
        guard usable, let keys, !keys.isEmpty, !sel.matchesNothing else { return sel }
        var reqs = sel.requirements
        for k in keys {
            guard let v = labels[k], let r = try? LabelRequirement(key: k, operator: op, values: [v]) else { continue }
            reqs.append(r)
        }
        return LabelSelectorExpression(requirements: reqs)
    }

    public func matches(_ pod: PodInfo) -> Bool {
        if let namespaces, !namespaces.contains(pod.namespace) { return false }
        return selector.matches(pod.labels)
    }

    var matcher: PodMatcher { PodMatcher(namespaces: namespaces, selector: selector, ownerUID: nil) }
}

public struct WeightedAffinityTerm: Sendable, Hashable {
    public var weight: Int64
    public var term: AffinityTerm
}

/// What the scheduler keeps of a pod: what its plugins read, computed once when the pod enters the cache.
public struct PodInfo: Sendable {
    public let pod: Pod
    public let key: String
    public let namespace: String
    public let labels: [String: String]
    public let nodeName: String
    public let priority: Int32
    public let requests: ResourceAmounts
    /// Requests with the scoring defaults for containers that request nothing.
    public let nonZeroRequests: ResourceAmounts
    public let hostPorts: [HostPortKey]
    /// The UID of the controlling owner, when it is one whose pods the default spreading applies to.
    public let spreadingOwnerUID: String?
    public let terminating: Bool
    public let requiredAffinity: [AffinityTerm]
    public let requiredAntiAffinity: [AffinityTerm]
    public let preferredAffinity: [WeightedAffinityTerm]
    public let preferredAntiAffinity: [WeightedAffinityTerm]

    public init(_ pod: Pod) {
        self.pod = pod
        key = ObjectKey.of(pod.metadata)
        namespace = pod.metadata.namespace ?? "default"
        let labels = pod.metadata.labels ?? [:]
        self.labels = labels
        nodeName = pod.spec?.nodeName ?? ""
        priority = pod.spec?.priority ?? 0
        requests = ResourceAmounts.podRequests(pod.spec)
        nonZeroRequests = ResourceAmounts.podRequests(pod.spec, nonZero: true)
        var ports: [HostPortKey] = []
        for c in (pod.spec?.initContainers ?? []) + (pod.spec?.containers ?? []) {
            for p in c.ports ?? [] {
                guard let hp = p.hostPort, hp > 0 else { continue }
                ports.append(HostPortKey(ip: p.hostIP.flatMap { $0.isEmpty ? nil : $0 } ?? "0.0.0.0",
                                         protocol: p.protocol.flatMap { $0.isEmpty ? nil : $0 } ?? "TCP", port: hp))
            }
        }
        hostPorts = ports
        if let owner = pod.metadata.ownerReferences?.first(where: { $0.controller == true }),
           ["ReplicaSet", "ReplicationController", "StatefulSet"].contains(owner.kind) {
            spreadingOwnerUID = owner.uid
        } else {
            spreadingOwnerUID = nil
        }
        terminating = pod.metadata.deletionTimestamp != nil
        let ns = namespace
        let aff = pod.spec?.affinity
        requiredAffinity = (aff?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map {
            AffinityTerm($0, podNamespace: ns, podLabels: labels)
        }
        requiredAntiAffinity = (aff?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map {
            AffinityTerm($0, podNamespace: ns, podLabels: labels)
        }
        preferredAffinity = (aff?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).compactMap { w in
            w.podAffinityTerm.map { WeightedAffinityTerm(weight: Int64(w.weight ?? 0), term: AffinityTerm($0, podNamespace: ns, podLabels: labels)) }
        }
        preferredAntiAffinity = (aff?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).compactMap { w in
            w.podAffinityTerm.map { WeightedAffinityTerm(weight: Int64(w.weight ?? 0), term: AffinityTerm($0, podNamespace: ns, podLabels: labels)) }
        }
    }

    public var hasAffinityTerms: Bool {
        !requiredAffinity.isEmpty || !requiredAntiAffinity.isEmpty || !preferredAffinity.isEmpty || !preferredAntiAffinity.isEmpty
    }
}

/// A host port in use: upstream's HostPortInfo key (0.0.0.0 means every address).
public struct HostPortKey: Sendable, Hashable {
    public var ip: String
    public var `protocol`: String
    public var port: Int32

    public init(ip: String, protocol: String, port: Int32) {
        self.ip = ip
        self.protocol = `protocol`
        self.port = port
    }

    /// Upstream's CheckConflict: same protocol and port, and the same address or either is the wildcard.
    public func conflicts(with o: HostPortKey) -> Bool {
        port == o.port && `protocol` == o.protocol && (ip == o.ip || ip == "0.0.0.0" || o.ip == "0.0.0.0")
    }
}

/// Which pods a count is about: the pods of some namespaces matching a selector (and, for the default spreading,
/// with one controlling owner). Terminating pods are not counted, as upstream's spreading does not count them.
public struct PodMatcher: Sendable, Hashable {
    public var namespaces: Set<String>?
    public var selector: LabelSelectorExpression
    public var ownerUID: String?

    public init(namespaces: Set<String>?, selector: LabelSelectorExpression, ownerUID: String? = nil) {
        self.namespaces = namespaces
        self.selector = selector
        self.ownerUID = ownerUID
    }

    public func matches(_ pod: PodInfo) -> Bool {
        if pod.terminating { return false }
        if let ownerUID, pod.spreadingOwnerUID != ownerUID { return false }
        if let namespaces, !namespaces.contains(pod.namespace) { return false }
        return selector.matches(pod.labels)
    }
}
