import Foundation

// Validation as upstream pkg/apis/core/validation (ValidatePodCreate, ValidatePodSpec, ValidatePodUpdate),
// run on defaulted objects like the apiserver does.

extension Pod {
    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        errs += (spec ?? PodSpec()).validate(path: "spec")
        return errs
    }

    public func validateUpdate(old: Pod) -> [FieldError] {
        var errs = Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
        errs += (spec ?? PodSpec()).validate(path: "spec")
        errs += PodSpec.validateUpdate(new: spec ?? PodSpec(), old: old.spec ?? PodSpec())
        return errs
    }
}

extension PodTemplate {
    public func validate() -> [FieldError] {
        Validation.validateObjectMeta(metadata, namespaced: true)
            + (template ?? PodTemplateSpec()).validate(path: "template")
    }

    public func validateUpdate(old: PodTemplate) -> [FieldError] {
        Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
            + (template ?? PodTemplateSpec()).validate(path: "template")
    }
}

extension PodTemplateSpec {
    /// ValidatePodTemplateSpec: labels and annotations of the template metadata, then the spec.
    public func validate(path: String) -> [FieldError] {
        var errs = Validation.validateLabels(metadata?.labels, path: path + ".metadata.labels")
        errs += Validation.validateAnnotations(metadata?.annotations, path: path + ".metadata.annotations")
        errs += (spec ?? PodSpec()).validate(path: path + ".spec")
        return errs
    }
}

extension PodSpec {
    static let supportedProtocols = ["SCTP", "TCP", "UDP"]

    /// ValidatePodSpec, with paths rooted at `path` ("spec", "spec.template.spec").
    public func validate(path: String) -> [FieldError] {
        var errs: [FieldError] = []
        let vols = volumes ?? []
        // Only volumes that passed validation can be mounted, as upstream.
        let (volumeErrors, volumeNames) = Self.validateVolumes(vols, path: path + ".volumes")
        errs += volumeErrors
        let app = containers ?? []
        let inits = initContainers ?? []
        if app.isEmpty { errs.append(.required(path + ".containers")) }
        var names = Set<String>()
        for (i, c) in app.enumerated() {
            let p = "\(path).containers[\(i)]"
            errs += c.validateCommon(path: p, volumes: volumeNames)
            if let n = c.name, !n.isEmpty {
                if names.contains(n) { errs.append(.duplicate(p + ".name", n)) } else { names.insert(n) }
            }
            if c.restartPolicy != nil { errs.append(.forbidden(p + ".restartPolicy", "may not be set for non-init containers")) }
            errs += c.validateProbesAndLifecycle(path: p)
        }
        errs += Self.validateHostPorts(app, path: path + ".containers")
        for (i, c) in inits.enumerated() {
            let p = "\(path).initContainers[\(i)]"
            errs += Self.validateHostPorts([c], path: path + ".initContainers", firstIndex: i)
            errs += c.validateCommon(path: p, volumes: volumeNames)
            if let n = c.name, !n.isEmpty {
                if names.contains(n) { errs.append(.duplicate(p + ".name", n)) } else { names.insert(n) }
            }
            if let rp = c.restartPolicy, rp != RestartPolicy.always {
                errs.append(.notSupported(p + ".restartPolicy", rp, [RestartPolicy.always]))
            }
            if c.restartPolicy == RestartPolicy.always {
                errs += c.validateProbesAndLifecycle(path: p)
            } else {
                // Only sidecars (restartPolicy Always) keep running long enough to be probed.
                let forbidden = "may not be set for init containers without restartPolicy=Always"
                if c.lifecycle != nil { errs.append(.forbidden(p + ".lifecycle", forbidden)) }
                if c.livenessProbe != nil { errs.append(.forbidden(p + ".livenessProbe", forbidden)) }
                if c.readinessProbe != nil { errs.append(.forbidden(p + ".readinessProbe", forbidden)) }
                if c.startupProbe != nil { errs.append(.forbidden(p + ".startupProbe", forbidden)) }
            }
        }
        for (i, c) in (ephemeralContainers ?? []).enumerated() {
            let p = "\(path).ephemeralContainers[\(i)]"
            if let n = c.name, !n.isEmpty {
                errs += Validation.dns1123Label(n).map { .invalid(p + ".name", n, $0) }
                if names.contains(n) { errs.append(.duplicate(p + ".name", n)) } else { names.insert(n) }
            } else {
                errs.append(.required(p + ".name"))
            }
            if (c.image ?? "").isEmpty { errs.append(.required(p + ".image")) }
            let regular = Set(app.compactMap(\.name) + inits.compactMap(\.name))
            if let target = c.targetContainerName, !target.isEmpty, !regular.contains(target) {
                errs.append(FieldError(.notFound, p + ".targetContainerName", target))
            }
        }

        if hostNetwork == true {
            // The pod shares the node's network, so a port can only be published as itself.
            for (field, list) in [("containers", app), ("initContainers", inits)] {
                for (i, c) in list.enumerated() {
                    for (j, port) in (c.ports ?? []).enumerated() {
                        if let hp = port.hostPort, hp != 0, hp != port.containerPort {
                            errs.append(.invalid("\(path).\(field)[\(i)].ports[\(j)].containerPort", String(port.containerPort ?? 0),
                                                 "must match `hostPort` when `hostNetwork` is true"))
                        }
                    }
                }
            }
        }
        errs += Self.validateRestartPolicy(restartPolicy, path: path + ".restartPolicy")
        errs += validateDNS(path: path)
        if let ns = nodeSelector { errs += Validation.validateLabels(ns, path: path + ".nodeSelector") }
        if let sa = serviceAccountName, !sa.isEmpty {
            errs += Validation.dns1123Subdomain(sa).map { .invalid(path + ".serviceAccountName", sa, $0) }
        }
        if let n = nodeName, !n.isEmpty {
            errs += Validation.dns1123Subdomain(n).map { .invalid(path + ".nodeName", n, $0) }
        }
        if let h = hostname, !h.isEmpty {
            errs += Validation.dns1123Label(h).map { .invalid(path + ".hostname", h, $0) }
        }
        if let s = subdomain, !s.isEmpty {
            errs += Validation.dns1123Label(s).map { .invalid(path + ".subdomain", s, $0) }
        }
        if let pc = priorityClassName, !pc.isEmpty {
            errs += Validation.dns1123Subdomain(pc).map { .invalid(path + ".priorityClassName", pc, $0) }
        }
        if let ads = activeDeadlineSeconds, ads < 1 || ads > Int64(Int32.max) {
            errs.append(.invalid(path + ".activeDeadlineSeconds", String(ads), Validation.inclusiveRangeError(1, Int(Int32.max))))
        }
        if let pp = preemptionPolicy, pp != "PreemptLowerPriority", pp != "Never" {
            errs.append(.notSupported(path + ".preemptionPolicy", pp, ["Never", "PreemptLowerPriority"]))
        }
        errs += Self.validateTolerations(tolerations ?? [], path: path + ".tolerations")
        if let na = affinity?.nodeAffinity {
            let p = path + ".affinity.nodeAffinity"
            for (i, term) in (na.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).enumerated() {
                errs += term.validate(path: "\(p).requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[\(i)]")
            }
            for (i, pref) in (na.preferredDuringSchedulingIgnoredDuringExecution ?? []).enumerated() {
                let pp = "\(p).preferredDuringSchedulingIgnoredDuringExecution[\(i)]"
                if let w = pref.weight, w < 1 || w > 100 {
                    errs.append(.invalid(pp + ".weight", String(w), Validation.inclusiveRangeError(1, 100)))
                }
                errs += (pref.preference ?? NodeSelectorTerm()).validate(path: pp + ".preference")
            }
        }
        if let pa = affinity?.podAffinity {
            errs += Self.validatePodAffinityTerms(pa.requiredDuringSchedulingIgnoredDuringExecution, pa.preferredDuringSchedulingIgnoredDuringExecution,
                                                  path: path + ".affinity.podAffinity")
        }
        if let paa = affinity?.podAntiAffinity {
            errs += Self.validatePodAffinityTerms(paa.requiredDuringSchedulingIgnoredDuringExecution, paa.preferredDuringSchedulingIgnoredDuringExecution,
                                                  path: path + ".affinity.podAntiAffinity")
        }
        for (i, secret) in (imagePullSecrets ?? []).enumerated() where (secret.name ?? "").isEmpty {
            errs.append(.required("\(path).imagePullSecrets[\(i)].name"))
        }
        if let sc = securityContext {
            for (field, v) in [("runAsUser", sc.runAsUser), ("runAsGroup", sc.runAsGroup), ("fsGroup", sc.fsGroup)] {
                if let v, v < 0 || v > Int64(Int32.max) {
                    errs.append(.invalid("\(path).securityContext.\(field)", String(v), Validation.inclusiveRangeError(0, Int(Int32.max))))
                }
            }
        }
        errs += validateTopologySpread(path: path + ".topologySpreadConstraints")
        for (i, alias) in (hostAliases ?? []).enumerated() {
            let ip = alias.ip ?? ""
            if !Node.isIP(ip) {
                errs.append(.invalid("\(path).hostAliases[\(i)].ip", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            }
            for (j, h) in (alias.hostnames ?? []).enumerated() {
                errs += Validation.dns1123Subdomain(h).map { .invalid("\(path).hostAliases[\(i)].hostnames[\(j)]", h, $0) }
            }
        }
        for (i, g) in (readinessGates ?? []).enumerated() {
            let ct = g.conditionType ?? ""
            errs += Validation.isQualifiedName(ct).map { .invalid("\(path).readinessGates[\(i)].conditionType", ct, $0) }
        }
        return errs
    }

    static func validatePodAffinityTerms(_ required: [PodAffinityTerm]?, _ preferred: [WeightedPodAffinityTerm]?,
                                         path: String) -> [FieldError] {
        var errs: [FieldError] = []
        func term(_ t: PodAffinityTerm, _ p: String) {
            let key = t.topologyKey ?? ""
            if key.isEmpty {
                errs.append(.required(p + ".topologyKey", "can not be empty"))
            } else {
                errs += Validation.isQualifiedName(key).map { .invalid(p + ".topologyKey", key, $0) }
            }
            for (i, ns) in (t.namespaces ?? []).enumerated() {
                errs += Validation.dns1123Label(ns).map { .invalid("\(p).namespaces[\(i)]", ns, $0) }
            }
        }
        for (i, t) in (required ?? []).enumerated() {
            term(t, "\(path).requiredDuringSchedulingIgnoredDuringExecution[\(i)]")
        }
        for (i, w) in (preferred ?? []).enumerated() {
            let p = "\(path).preferredDuringSchedulingIgnoredDuringExecution[\(i)]"
            if let weight = w.weight, weight < 1 || weight > 100 {
                errs.append(.invalid(p + ".weight", String(weight), Validation.inclusiveRangeError(1, 100)))
            }
            term(w.podAffinityTerm ?? PodAffinityTerm(), p + ".podAffinityTerm")
        }
        return errs
    }

    func validateTopologySpread(path: String) -> [FieldError] {
        var errs: [FieldError] = []
        var seen = Set<String>()
        for (i, c) in (topologySpreadConstraints ?? []).enumerated() {
            let p = "\(path)[\(i)]"
            let skew = c.maxSkew ?? 0
            if skew <= 0 { errs.append(.invalid(p + ".maxSkew", String(skew), "must be greater than zero")) }
            let key = c.topologyKey ?? ""
            if key.isEmpty {
                errs.append(.required(p + ".topologyKey", "can not be empty"))
            } else {
                errs += Validation.isQualifiedName(key).map { .invalid(p + ".topologyKey", key, $0) }
            }
            let when = c.whenUnsatisfiable ?? ""
            if when != "DoNotSchedule" && when != "ScheduleAnyway" {
                errs.append(.notSupported(p + ".whenUnsatisfiable", when, ["DoNotSchedule", "ScheduleAnyway"]))
            }
            if let m = c.minDomains, m <= 0 {
                errs.append(.invalid(p + ".minDomains", String(m), "must be greater than zero"))
            }
            let pair = key + "\u{0}" + when
            if seen.contains(pair) { errs.append(.duplicate(p, "{\(key), \(when)}")) }
            seen.insert(pair)
        }
        return errs
    }

    static func validateRestartPolicy(_ policy: String?, path: String) -> [FieldError] {
        switch policy ?? "" {
        case RestartPolicy.always, RestartPolicy.onFailure, RestartPolicy.never: return []
        case "": return [.required(path)]
        case let p: return [.notSupported(path, p, [RestartPolicy.always, RestartPolicy.onFailure, RestartPolicy.never])]
        }
    }

    func validateDNS(path: String) -> [FieldError] {
        var errs: [FieldError] = []
        let valid = [DNSPolicy.clusterFirstWithHostNet, DNSPolicy.clusterFirst, DNSPolicy.default, DNSPolicy.none]
        switch dnsPolicy ?? "" {
        case "": errs.append(.required(path + ".dnsPolicy"))
        case let p where !valid.contains(p): errs.append(.notSupported(path + ".dnsPolicy", p, valid))
        default: break
        }
        if dnsPolicy == DNSPolicy.none {
            if dnsConfig == nil {
                errs.append(.required(path + ".dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
            } else if (dnsConfig?.nameservers ?? []).isEmpty {
                errs.append(.required(path + ".dnsConfig.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None"))
            }
        }
        return errs
    }

    static func validateVolumes(_ volumes: [Volume], path: String) -> ([FieldError], Set<String>) {
        var errs: [FieldError] = []
        var names = Set<String>()
        for (i, v) in volumes.enumerated() {
            let p = "\(path)[\(i)]"
            var el = v.validateSource(path: p)
            let name = v.name ?? ""
            if name.isEmpty {
                el.append(.required(p + ".name"))
            } else {
                el += Validation.dns1123Label(name).map { .invalid(p + ".name", name, $0) }
            }
            if names.contains(name) { el.append(.duplicate(p + ".name", name)) }
            if el.isEmpty { names.insert(name) }
            errs += el
        }
        return (errs, names)
    }

    /// AccumulateUniqueHostPorts: one hostIP/protocol/hostPort triple per pod (per init container for init
    /// containers, which run one at a time).
    static func validateHostPorts(_ containers: [Container], path: String, firstIndex: Int = 0) -> [FieldError] {
        var errs: [FieldError] = []
        var seen = Set<String>()
        for (i, c) in containers.enumerated() {
            for (j, port) in (c.ports ?? []).enumerated() {
                guard let hp = port.hostPort, hp != 0 else { continue }
                let key = "\(port.hostIP ?? "")/\(port.protocol ?? "")/\(hp)"
                if seen.contains(key) {
                    errs.append(.duplicate("\(path)[\(firstIndex + i)].ports[\(j)].hostPort", key))
                } else {
                    seen.insert(key)
                }
            }
        }
        return errs
    }

    static func validateTolerations(_ tolerations: [Toleration], path: String) -> [FieldError] {
        var errs: [FieldError] = []
        for (i, t) in tolerations.enumerated() {
            let p = "\(path)[\(i)]"
            let key = t.key ?? "", op = t.operator ?? "", value = t.value ?? "", effect = t.effect ?? ""
            if !key.isEmpty { errs += Validation.isQualifiedName(key).map { .invalid(p + ".key", key, $0) } }
            if key.isEmpty && op != "Exists" {
                errs.append(.invalid(p + ".operator", op, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
            }
            if t.tolerationSeconds != nil && effect != TaintEffect.noExecute {
                errs.append(.invalid(p + ".effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
            }
            switch op {
            case "Equal", "":
                errs += Validation.labelValue(value).map { .invalid(p + ".operator", value, $0) }
            case "Exists":
                if !value.isEmpty { errs.append(.invalid(p + ".operator", value, "value must be empty when `operator` is 'Exists'")) }
            default:
                errs.append(.notSupported(p + ".operator", op, ["Equal", "Exists"]))
            }
            if !effect.isEmpty { errs += validateTaintEffect(effect, path: p + ".effect") }
        }
        return errs
    }

    static func validateTaintEffect(_ effect: String, path: String) -> [FieldError] {
        let valid = [TaintEffect.noSchedule, TaintEffect.preferNoSchedule, TaintEffect.noExecute]
        if effect.isEmpty { return [.required(path)] }
        return valid.contains(effect) ? [] : [.notSupported(path, effect, valid)]
    }

    static let updatableFieldsMessage = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

    /// ValidatePodUpdate's spec rules: only images, activeDeadlineSeconds (set or lowered), added tolerations
    /// and a negative grace period raised to 1 may change.
    public static func validateUpdate(new: PodSpec, old: PodSpec, path: String = "spec") -> [FieldError] {
        var errs: [FieldError] = []
        for (field, n, o) in [("containers", new.containers ?? [], old.containers ?? []),
                              ("initContainers", new.initContainers ?? [], old.initContainers ?? [])] {
            if n.count != o.count {
                return errs + [.forbidden("\(path).\(field)", "pod updates may not add or remove containers")]
            }
            for (i, c) in n.enumerated() {
                let image = c.image ?? ""
                if image.isEmpty { errs.append(.required("\(path).\(field)[\(i)].image")) }
                if image.trimmingCharacters(in: .whitespaces) != image {
                    errs.append(.invalid("\(path).\(field)[\(i)].image", image, "must not have leading or trailing whitespace"))
                }
            }
        }
        if let n = new.activeDeadlineSeconds {
            if n < 0 || n > Int64(Int32.max) {
                return errs + [.invalid(path + ".activeDeadlineSeconds", String(n), Validation.inclusiveRangeError(0, Int(Int32.max)))]
            }
            if let o = old.activeDeadlineSeconds, o < n {
                return errs + [.invalid(path + ".activeDeadlineSeconds", String(n), "must be less than or equal to previous value")]
            }
        } else if old.activeDeadlineSeconds != nil {
            errs.append(.invalid(path + ".activeDeadlineSeconds", "", "must not update from a positive integer to nil value"))
        }
        // Every existing toleration must still be there; only its tolerationSeconds may differ.
        let newTolerations = new.tolerations ?? []
        for old in old.tolerations ?? [] {
            let kept = newTolerations.contains { t in
                var o = old
                o.tolerationSeconds = t.tolerationSeconds
                return o == t
            }
            if !kept {
                errs.append(.forbidden(path + ".tolerations", "existing toleration can not be modified except its tolerationSeconds"))
                break
            }
        }
        guard new != old else { return errs }
        var munged = new
        munged.containers = zip(new.containers ?? [], old.containers ?? []).map { n, o in var c = n; c.image = o.image; return c }
        munged.initContainers = zip(new.initContainers ?? [], old.initContainers ?? []).map { n, o in var c = n; c.image = o.image; return c }
        if new.containers == nil { munged.containers = nil }
        if new.initContainers == nil { munged.initContainers = nil }
        munged.activeDeadlineSeconds = old.activeDeadlineSeconds
        munged.tolerations = old.tolerations
        munged.schedulingGates = old.schedulingGates
        if let o = old.terminationGracePeriodSeconds, o < 0, munged.terminationGracePeriodSeconds == 1 {
            munged.terminationGracePeriodSeconds = o
        }
        if munged != old {
            errs.append(.forbidden(path, updatableFieldsMessage))
        }
        return errs
    }
}

extension NodeSelectorTerm {
    func validate(path: String) -> [FieldError] {
        var errs: [FieldError] = []
        for (i, r) in (matchExpressions ?? []).enumerated() {
            errs += r.validate(path: "\(path).matchExpressions[\(i)]", fieldSelector: false)
        }
        for (i, r) in (matchFields ?? []).enumerated() {
            errs += r.validate(path: "\(path).matchFields[\(i)]", fieldSelector: true)
        }
        return errs
    }
}

extension NodeSelectorRequirement {
    func validate(path: String, fieldSelector: Bool) -> [FieldError] {
        var errs: [FieldError] = []
        let vals = values ?? []
        let op = self.operator ?? ""
        switch op {
        case "In", "NotIn":
            if vals.isEmpty { errs.append(.required(path + ".values", "must be specified when `operator` is 'In' or 'NotIn'")) }
        case "Exists", "DoesNotExist":
            if !vals.isEmpty { errs.append(.forbidden(path + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")) }
        case "Gt", "Lt":
            if vals.count != 1 { errs.append(.required(path + ".values", "must be specified single value when `operator` is 'Lt' or 'Gt'")) }
        default:
            errs.append(.invalid(path + ".operator", op, "not a valid selector operator"))
        }
        let k = key ?? ""
        if fieldSelector {
            if k != "metadata.name" { errs.append(.invalid(path + ".key", k, "not a valid field selector key")) }
        } else {
            errs += Validation.isQualifiedName(k).map { .invalid(path + ".key", k, $0) }
        }
        return errs
    }
}

extension Volume {
    func validateSource(path: String) -> [FieldError] {
        var errs: [FieldError] = []
        let sources: [(String, Bool)] = [
            ("hostPath", hostPath != nil), ("emptyDir", emptyDir != nil), ("secret", secret != nil),
            ("nfs", nfs != nil), ("persistentVolumeClaim", persistentVolumeClaim != nil),
            ("downwardAPI", downwardAPI != nil), ("configMap", configMap != nil), ("projected", projected != nil),
            ("csi", csi != nil), ("ephemeral", ephemeral != nil), ("image", image != nil),
        ]
        let set = sources.filter(\.1).map(\.0)
        if set.isEmpty { return [.required(path, "must specify a volume type")] }
        for extra in set.dropFirst() {
            errs.append(.forbidden(path + "." + extra, "may not specify more than 1 volume type"))
        }
        if let h = hostPath {
            let p = h.path ?? ""
            if p.isEmpty { errs.append(.required(path + ".hostPath.path")) }
            let types = ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"]
            if let t = h.type, !types.contains(t) { errs.append(.notSupported(path + ".hostPath.type", t, types)) }
        }
        if let s = secret {
            if (s.secretName ?? "").isEmpty { errs.append(.required(path + ".secret.secretName")) }
            errs += Self.validateMode(s.defaultMode, path: path + ".secret.defaultMode")
            errs += Self.validateItems(s.items, path: path + ".secret.items")
        }
        if let c = configMap {
            if (c.name ?? "").isEmpty { errs.append(.required(path + ".configMap.name")) }
            errs += Self.validateMode(c.defaultMode, path: path + ".configMap.defaultMode")
            errs += Self.validateItems(c.items, path: path + ".configMap.items")
        }
        if let n = nfs {
            if (n.server ?? "").isEmpty { errs.append(.required(path + ".nfs.server")) }
            let p = n.path ?? ""
            if p.isEmpty {
                errs.append(.required(path + ".nfs.path"))
            } else if !p.hasPrefix("/") {
                errs.append(.invalid(path + ".nfs.path", p, "must be an absolute path"))
            }
        }
        if let c = persistentVolumeClaim, (c.claimName ?? "").isEmpty {
            errs.append(.required(path + ".persistentVolumeClaim.claimName"))
        }
        if let d = downwardAPI {
            errs += Self.validateMode(d.defaultMode, path: path + ".downwardAPI.defaultMode")
            for (i, f) in (d.items ?? []).enumerated() {
                let fp = "\(path).downwardAPI.items[\(i)]"
                if (f.path ?? "").isEmpty { errs.append(.required(fp + ".path")) }
                errs += Self.validateMode(f.mode, path: fp + ".mode")
            }
        }
        if let p = projected {
            errs += Self.validateMode(p.defaultMode, path: path + ".projected.defaultMode")
        }
        return errs
    }

    static func validateMode(_ mode: Int32?, path: String) -> [FieldError] {
        guard let m = mode, m < 0 || m > 0o777 else { return [] }
        return [.invalid(path, String(m), "must be a number between 0 and 0777 (octal), both inclusive")]
    }

    static func validateItems(_ items: [KeyToPath]?, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        for (i, item) in (items ?? []).enumerated() {
            let p = "\(path)[\(i)]"
            if (item.key ?? "").isEmpty { errs.append(.required(p + ".key")) }
            let target = item.path ?? ""
            if target.isEmpty {
                errs.append(.required(p + ".path"))
            } else if target.hasPrefix("/") {
                errs.append(.invalid(p + ".path", target, "must be a relative path"))
            } else if target.split(separator: "/").contains("..") {
                errs.append(.invalid(p + ".path", target, "must not contain '..'"))
            }
            errs += validateMode(item.mode, path: p + ".mode")
        }
        return errs
    }
}

extension Container {
    static let envFieldPaths = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                                "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP",
                                "status.hostIPs", "status.podIP", "status.podIPs"]

    /// validateContainerCommon: name, image, ports, env, mounts, pull policy, resources, termination policy.
    func validateCommon(path: String, volumes: Set<String>) -> [FieldError] {
        var errs: [FieldError] = []
        let n = name ?? ""
        if n.isEmpty {
            errs.append(.required(path + ".name"))
        } else {
            errs += Validation.dns1123Label(n).map { .invalid(path + ".name", n, $0) }
        }
        if (image ?? "").isEmpty { errs.append(.required(path + ".image")) }
        switch terminationMessagePolicy ?? "" {
        case "File", "FallbackToLogsOnError": break
        case "": errs.append(.required(path + ".terminationMessagePolicy", "must be 'File' or 'FallbackToLogsOnError'"))
        case let t: errs.append(.invalid(path + ".terminationMessagePolicy", t, "must be 'File' or 'FallbackToLogsOnError'"))
        }
        errs += Self.validatePorts(ports ?? [], path: path + ".ports")
        errs += Self.validateEnv(env ?? [], path: path + ".env")
        for (i, e) in (envFrom ?? []).enumerated() {
            let p = "\(path).envFrom[\(i)]"
            if let prefix = e.prefix, !prefix.isEmpty {
                errs += Validation.envVarName(prefix).map { .invalid(p + ".prefix", prefix, $0) }
            }
            let count = (e.configMapRef != nil ? 1 : 0) + (e.secretRef != nil ? 1 : 0)
            if count == 0 {
                errs.append(.invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
            } else if count > 1 {
                errs.append(.invalid(p, "", "may not have more than one field specified at a time"))
            }
            if let r = e.configMapRef, (r.name ?? "").isEmpty { errs.append(.required(p + ".configMapRef.name")) }
            if let r = e.secretRef, (r.name ?? "").isEmpty { errs.append(.required(p + ".secretRef.name")) }
        }
        var mountPaths = Set<String>()
        for (i, m) in (volumeMounts ?? []).enumerated() {
            let p = "\(path).volumeMounts[\(i)]"
            let mn = m.name ?? ""
            if mn.isEmpty { errs.append(.required(p + ".name")) }
            if !volumes.contains(mn) { errs.append(FieldError(.notFound, p + ".name", mn)) }
            let mp = m.mountPath ?? ""
            if mp.isEmpty { errs.append(.required(p + ".mountPath")) }
            if mountPaths.contains(mp) { errs.append(.invalid(p + ".mountPath", mp, "must be unique")) }
            mountPaths.insert(mp)
            if let sp = m.subPath, !sp.isEmpty {
                if sp.hasPrefix("/") {
                    errs.append(.invalid(p + ".subPath", sp, "must be a relative path"))
                } else if sp.split(separator: "/").contains("..") {
                    errs.append(.invalid(p + ".subPath", sp, "must not contain '..'"))
                }
            }
        }
        switch imagePullPolicy ?? "" {
        case PullPolicy.always, PullPolicy.ifNotPresent, PullPolicy.never: break
        case "": errs.append(.required(path + ".imagePullPolicy"))
        case let p: errs.append(.notSupported(path + ".imagePullPolicy", p, [PullPolicy.always, PullPolicy.ifNotPresent, PullPolicy.never]))
        }
        errs += (resources ?? ResourceRequirements()).validate(path: path + ".resources")
        if let sc = securityContext {
            for (field, v) in [("runAsUser", sc.runAsUser), ("runAsGroup", sc.runAsGroup)] {
                if let v, v < 0 || v > Int64(Int32.max) {
                    errs.append(.invalid("\(path).securityContext.\(field)", String(v), Validation.inclusiveRangeError(0, Int(Int32.max))))
                }
            }
            if sc.allowPrivilegeEscalation == false, sc.privileged == true {
                errs.append(.invalid(path + ".securityContext", "", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
            }
        }
        return errs
    }

    static func validatePorts(_ ports: [ContainerPort], path: String) -> [FieldError] {
        var errs: [FieldError] = []
        var names = Set<String>()
        for (i, port) in ports.enumerated() {
            let p = "\(path)[\(i)]"
            if let n = port.name, !n.isEmpty {
                let msgs = Validation.portName(n)
                if !msgs.isEmpty {
                    errs += msgs.map { .invalid(p + ".name", n, $0) }
                } else if names.contains(n) {
                    errs.append(.duplicate(p + ".name", n))
                } else {
                    names.insert(n)
                }
            }
            let cp = port.containerPort ?? 0
            if cp == 0 {
                errs.append(.required(p + ".containerPort"))
            } else {
                errs += Validation.validatePortNumber(cp, path: p + ".containerPort")
            }
            if let hp = port.hostPort, hp != 0 { errs += Validation.validatePortNumber(hp, path: p + ".hostPort") }
            let proto = port.protocol ?? ""
            if proto.isEmpty {
                errs.append(.required(p + ".protocol"))
            } else if !PodSpec.supportedProtocols.contains(proto) {
                errs.append(.notSupported(p + ".protocol", proto, PodSpec.supportedProtocols))
            }
        }
        return errs
    }

    static func validateEnv(_ env: [EnvVar], path: String) -> [FieldError] {
        var errs: [FieldError] = []
        for (i, e) in env.enumerated() {
            let p = "\(path)[\(i)]"
            let n = e.name ?? ""
            if n.isEmpty {
                errs.append(.required(p + ".name"))
            } else {
                errs += Validation.envVarName(n).map { .invalid(p + ".name", n, $0) }
            }
            guard let from = e.valueFrom else { continue }
            let vp = p + ".valueFrom"
            var count = 0
            if let f = from.fieldRef {
                count += 1
                let fp = f.fieldPath ?? ""
                if (f.apiVersion ?? "").isEmpty { errs.append(.required(vp + ".fieldRef.apiVersion")) }
                if fp.isEmpty {
                    errs.append(.required(vp + ".fieldRef.fieldPath"))
                } else {
                    // metadata.labels['key'] and metadata.annotations['key'] select one entry.
                    var base = fp
                    if let open = fp.firstIndex(of: "["), fp.hasSuffix("']") { base = String(fp[..<open]) }
                    let subscripted = base != fp
                    if !envFieldPaths.contains(base) || (subscripted && base != "metadata.labels" && base != "metadata.annotations")
                        || (!subscripted && (base == "metadata.labels" || base == "metadata.annotations")) {
                        errs.append(.notSupported(vp + ".fieldRef.fieldPath", fp, envFieldPaths.filter {
                            $0 != "metadata.labels" && $0 != "metadata.annotations" }))
                    }
                }
            }
            if let r = from.resourceFieldRef {
                count += 1
                let res = r.resource ?? ""
                let valid = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                             "requests.ephemeral-storage", "requests.memory"]
                if res.isEmpty {
                    errs.append(.required(vp + ".resourceFieldRef.resource"))
                } else if !valid.contains(res) && !res.hasPrefix("limits.hugepages-") && !res.hasPrefix("requests.hugepages-") {
                    errs.append(.notSupported(vp + ".resourceFieldRef.resource", res, valid))
                }
            }
            for (field, name, key) in [("configMapKeyRef", from.configMapKeyRef?.name, from.configMapKeyRef?.key),
                                       ("secretKeyRef", from.secretKeyRef?.name, from.secretKeyRef?.key)]
                where (field == "configMapKeyRef" ? from.configMapKeyRef != nil : from.secretKeyRef != nil) {
                count += 1
                if (name ?? "").isEmpty { errs.append(.required("\(vp).\(field).name")) }
                if let k = key, !k.isEmpty {
                    errs += Validation.configMapKey(k).map { .invalid("\(vp).\(field).key", k, $0) }
                } else {
                    errs.append(.required("\(vp).\(field).key"))
                }
            }
            if count == 0 {
                errs.append(.invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
            } else if !(e.value ?? "").isEmpty {
                errs.append(.invalid(vp, "", "may not be specified when `value` is not empty"))
            } else if count > 1 {
                errs.append(.invalid(vp, "", "may not have more than one field specified at a time"))
            }
        }
        return errs
    }

    /// Probes and lifecycle hooks of app containers and sidecars.
    func validateProbesAndLifecycle(path: String) -> [FieldError] {
        var errs: [FieldError] = []
        if let l = lifecycle {
            if let h = l.postStart { errs += h.validate(path: path + ".lifecycle.postStart") }
            if let h = l.preStop { errs += h.validate(path: path + ".lifecycle.preStop") }
        }
        for (field, probe) in [("livenessProbe", livenessProbe), ("readinessProbe", readinessProbe), ("startupProbe", startupProbe)] {
            guard let probe else { continue }
            let p = path + "." + field
            errs += probe.validate(path: p)
            if field != "readinessProbe", let st = probe.successThreshold, st != 1 {
                errs.append(.invalid(p + ".successThreshold", String(st), "must be 1"))
            }
            if field == "readinessProbe", probe.terminationGracePeriodSeconds != nil {
                errs.append(.invalid(p + ".terminationGracePeriodSeconds", String(probe.terminationGracePeriodSeconds ?? 0), "must not be set for readinessProbes"))
            }
        }
        return errs
    }
}

extension ResourceRequirements {
    /// ValidateResourceRequirements: names, non-negative quantities, whole units where required, and
    /// requests not above limits (equal for extended resources, which cannot be overcommitted).
    public func validate(path: String) -> [FieldError] {
        var errs: [FieldError] = []
        let lim = limits ?? [:]
        let req = requests ?? [:]
        for (name, q) in lim.sorted(by: { $0.key < $1.key }) {
            let p = "\(path).limits[\(name)]"
            errs += Self.validateResourceName(name, path: p)
            errs += Validation.validateResourceQuantity(name, q, path: p)
        }
        for (name, q) in req.sorted(by: { $0.key < $1.key }) {
            let p = "\(path).requests[\(name)]"
            errs += Self.validateResourceName(name, path: p)
            errs += Validation.validateResourceQuantity(name, q, path: p)
            let overcommit = Self.isOvercommitAllowed(name)
            if let l = lim[name] {
                if q != l && !overcommit {
                    errs.append(.invalid(path + ".requests", q.description, "must be equal to \(name) limit of \(l)"))
                } else if q > l {
                    errs.append(.invalid(path + ".requests", q.description, "must be less than or equal to \(name) limit of \(l)"))
                }
            } else if !overcommit {
                errs.append(.required(path + ".limits", "Limit must be set for non overcommitable resources"))
            }
        }
        return errs
    }

    static func isNative(_ name: String) -> Bool {
        guard let slash = name.firstIndex(of: "/") else { return true }
        let domain = name[..<slash]
        return domain == "kubernetes.io" || domain.hasSuffix(".kubernetes.io")
    }

    static func isOvercommitAllowed(_ name: String) -> Bool {
        isNative(name) && !name.hasPrefix("hugepages-")
    }

    static func validateResourceName(_ name: String, path: String) -> [FieldError] {
        var errs = Validation.isQualifiedName(name).map { FieldError.invalid(path, name, $0) }
        if errs.isEmpty, isNative(name),
           !["cpu", "memory", "ephemeral-storage"].contains(name), !name.hasPrefix("hugepages-") {
            errs.append(.invalid(path, name, "must be a standard resource for containers"))
        }
        return errs
    }
}

extension Probe {
    /// One handler, non-negative timings.
    func validate(path: String) -> [FieldError] {
        var errs = Self.validateHandler(exec: exec, httpGet: httpGet, tcpSocket: tcpSocket, grpc: grpc, sleep: nil, path: path)
        for (field, v) in [("initialDelaySeconds", initialDelaySeconds), ("timeoutSeconds", timeoutSeconds),
                           ("periodSeconds", periodSeconds), ("successThreshold", successThreshold),
                           ("failureThreshold", failureThreshold)] {
            if let v { errs += Validation.validateNonnegative(v, path: path + "." + field) }
        }
        if let t = terminationGracePeriodSeconds, t <= 0 {
            errs.append(.invalid(path + ".terminationGracePeriodSeconds", String(t), "must be greater than 0"))
        }
        return errs
    }

    static func validateHandler(exec: ExecAction?, httpGet: HTTPGetAction?, tcpSocket: TCPSocketAction?,
                                grpc: GRPCAction?, sleep: SleepAction?, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        var count = 0
        if let e = exec {
            count += 1
            if (e.command ?? []).isEmpty { errs.append(.required(path + ".exec.command")) }
        }
        if let h = httpGet {
            if count > 0 {
                errs.append(.forbidden(path + ".httpGet", "may not specify more than 1 handler type"))
            } else {
                count += 1
                if (h.path ?? "").isEmpty { errs.append(.required(path + ".httpGet.path")) }
                errs += validatePortNumOrName(h.port, path: path + ".httpGet.port")
                if let s = h.scheme, s != "HTTP", s != "HTTPS" {
                    errs.append(.notSupported(path + ".httpGet.scheme", s, ["HTTP", "HTTPS"]))
                }
                for (i, header) in (h.httpHeaders ?? []).enumerated() where (header.name ?? "").isEmpty {
                    errs.append(.required("\(path).httpGet.httpHeaders[\(i)].name"))
                }
            }
        }
        if let t = tcpSocket {
            if count > 0 {
                errs.append(.forbidden(path + ".tcpSocket", "may not specify more than 1 handler type"))
            } else {
                count += 1
                errs += validatePortNumOrName(t.port, path: path + ".tcpSocket.port")
            }
        }
        if let g = grpc {
            if count > 0 {
                errs.append(.forbidden(path + ".grpc", "may not specify more than 1 handler type"))
            } else {
                count += 1
                errs += Validation.validatePortNumber(g.port ?? 0, path: path + ".grpc.port")
            }
        }
        if let s = sleep {
            if count > 0 {
                errs.append(.forbidden(path + ".sleep", "may not specify more than 1 handler type"))
            } else {
                count += 1
                if let secs = s.seconds, secs < 0 {
                    errs.append(.invalid(path + ".sleep.seconds", String(secs), Validation.isNegativeErrorMsg))
                }
            }
        }
        if count == 0 { errs.append(.required(path, "must specify a handler type")) }
        return errs
    }

    /// ValidatePortNumOrName.
    public static func validatePortNumOrName(_ port: IntOrString?, path: String) -> [FieldError] {
        switch port {
        case .int(let n): return Validation.portNumber(Int(n)).map { .invalid(path, String(n), $0) }
        case .string(let s): return Validation.portName(s).map { .invalid(path, s, $0) }
        case nil: return [.required(path)]
        }
    }
}

extension LifecycleHandler {
    func validate(path: String) -> [FieldError] {
        Probe.validateHandler(exec: exec, httpGet: httpGet, tcpSocket: tcpSocket, grpc: nil, sleep: sleep, path: path)
    }
}
