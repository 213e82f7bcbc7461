import Foundation

// Defaulting as upstream pkg/apis/core/v1/defaults.go and its generated defaulters.

extension Pod {
    public mutating func applyDefaults() {
        apiVersion = Self.resourceInfo.apiVersion
        kind = Self.resourceInfo.kind
        var s = spec ?? PodSpec()
        // Pods only (not templates): requests default to limits, service links default on, and host-network
        // ports get their host port.
        s.containers = s.containers?.map { $0.withRequestsFromLimits() }
        s.initContainers = s.initContainers?.map { $0.withRequestsFromLimits() }
        if s.enableServiceLinks == nil { s.enableServiceLinks = true }
        if s.hostNetwork == true {
            s.containers = s.containers?.map { $0.withHostNetworkPorts() }
            s.initContainers = s.initContainers?.map { $0.withHostNetworkPorts() }
        }
        s.applyDefaults()
        spec = s
    }
}

extension PodTemplate {
    public mutating func applyDefaults() {
        apiVersion = Self.resourceInfo.apiVersion
        kind = Self.resourceInfo.kind
        var t = template ?? PodTemplateSpec()
        t.applyDefaults()
        template = t
    }
}

extension PodTemplateSpec {
    /// The defaults every workload applies to its pod template.
    public mutating func applyDefaults() {
        var s = spec ?? PodSpec()
        s.applyDefaults()
        spec = s
    }
}

extension PodSpec {
    public mutating func applyDefaults() {
        if (dnsPolicy ?? "").isEmpty { dnsPolicy = DNSPolicy.clusterFirst }
        if (restartPolicy ?? "").isEmpty { restartPolicy = RestartPolicy.always }
        if securityContext == nil { securityContext = PodSecurityContext() }
        if terminationGracePeriodSeconds == nil { terminationGracePeriodSeconds = 30 }
        if (schedulerName ?? "").isEmpty { schedulerName = "default-scheduler" }
        overhead = overhead.map(ResourceRequirements.roundedToMilli)
        containers = containers?.map { var c = $0; c.applyDefaults(); return c }
        initContainers = initContainers?.map { var c = $0; c.applyDefaults(); return c }
        ephemeralContainers = ephemeralContainers?.map { var c = $0; c.applyDefaults(); return c }
        volumes = volumes?.map { var v = $0; v.applyDefaults(); return v }
    }
}

extension Container {
    public mutating func applyDefaults() {
        if (imagePullPolicy ?? "").isEmpty { imagePullPolicy = Self.defaultPullPolicy(image: image ?? "") }
        if (terminationMessagePath ?? "").isEmpty { terminationMessagePath = "/dev/termination-log" }
        if (terminationMessagePolicy ?? "").isEmpty { terminationMessagePolicy = "File" }
        resources?.applyDefaults()
        ports = ports?.map { var p = $0; p.applyDefaults(); return p }
        env = env?.map { var e = $0; e.applyDefaults(); return e }
        livenessProbe?.applyDefaults()
        readinessProbe?.applyDefaults()
        startupProbe?.applyDefaults()
        lifecycle?.applyDefaults()
    }

    /// Always for ":latest" or an untagged, undigested image; IfNotPresent otherwise.
    public static func defaultPullPolicy(image: String) -> String {
        var ref = Substring(image)
        var hasDigest = false
        if let at = ref.firstIndex(of: "@") {
            hasDigest = true
            ref = ref[..<at]
        }
        // The tag follows the last ':' after the last '/' (a ':' before that is a registry port).
        if let slash = ref.lastIndex(of: "/") { ref = ref[ref.index(after: slash)...] }
        guard let colon = ref.lastIndex(of: ":") else {
            // Untagged means "latest", unless a digest pins the image.
            return hasDigest ? PullPolicy.ifNotPresent : PullPolicy.always
        }
        return ref[ref.index(after: colon)...] == "latest" ? PullPolicy.always : PullPolicy.ifNotPresent
    }

    func withRequestsFromLimits() -> Container {
        guard let limits = resources?.limits else { return self }
        var c = self
        var r = c.resources ?? ResourceRequirements()
        var requests = r.requests ?? [:]
        for (name, q) in limits where requests[name] == nil { requests[name] = q }
        r.requests = requests
        c.resources = r
        return c
    }

    func withHostNetworkPorts() -> Container {
        var c = self
        c.ports = c.ports?.map { p in
            var p = p
            if (p.hostPort ?? 0) == 0 { p.hostPort = p.containerPort }
            return p
        }
        return c
    }
}

extension EphemeralContainer {
    /// The same defaults as a regular container (SetDefaults_EphemeralContainer).
    public mutating func applyDefaults() {
        if (imagePullPolicy ?? "").isEmpty { imagePullPolicy = Container.defaultPullPolicy(image: image ?? "") }
        if (terminationMessagePath ?? "").isEmpty { terminationMessagePath = "/dev/termination-log" }
        if (terminationMessagePolicy ?? "").isEmpty { terminationMessagePolicy = "File" }
        resources?.applyDefaults()
        ports = ports?.map { var p = $0; p.applyDefaults(); return p }
        env = env?.map { var e = $0; e.applyDefaults(); return e }
        livenessProbe?.applyDefaults()
        readinessProbe?.applyDefaults()
        startupProbe?.applyDefaults()
        lifecycle?.applyDefaults()
    }
}

extension ResourceRequirements {
    /// SetDefaults_ResourceList: amounts are rounded up to milli precision.
    public mutating func applyDefaults() {
        limits = limits.map(Self.roundedToMilli)
        requests = requests.map(Self.roundedToMilli)
    }

    public static func roundedToMilli(_ list: [String: Quantity]) -> [String: Quantity] {
        list.mapValues { $0.roundedUp(scale: -3) }
    }
}

extension ContainerPort {
    public mutating func applyDefaults() {
        if (`protocol` ?? "").isEmpty { `protocol` = "TCP" }
    }
}

extension EnvVar {
    public mutating func applyDefaults() {
        valueFrom?.fieldRef?.applyDefaults()
        valueFrom?.resourceFieldRef?.applyDefaults()
    }
}

extension ObjectFieldSelector {
    public mutating func applyDefaults() {
        if (apiVersion ?? "").isEmpty { apiVersion = "v1" }
    }
}

extension ResourceFieldSelector {
    /// Upstream's divisor is a non-pointer Quantity, so it is always present and prints as "0" when unset.
    public mutating func applyDefaults() {
        if divisor == nil { divisor = Quantity(nanos: 0) }
    }
}

extension Probe {
    public mutating func applyDefaults() {
        if (timeoutSeconds ?? 0) == 0 { timeoutSeconds = 1 }
        if (periodSeconds ?? 0) == 0 { periodSeconds = 10 }
        if (successThreshold ?? 0) == 0 { successThreshold = 1 }
        if (failureThreshold ?? 0) == 0 { failureThreshold = 3 }
        httpGet?.applyDefaults()
        if grpc != nil, grpc?.service == nil { grpc?.service = "" }
    }
}

extension HTTPGetAction {
    public mutating func applyDefaults() {
        if (path ?? "").isEmpty { path = "/" }
        if (scheme ?? "").isEmpty { scheme = "HTTP" }
    }
}

extension Lifecycle {
    public mutating func applyDefaults() {
        postStart?.httpGet?.applyDefaults()
        preStop?.httpGet?.applyDefaults()
    }
}

extension Volume {
    /// A volume without a source is an emptyDir; file modes default to 0644 (420).
    public mutating func applyDefaults() {
        if hostPath == nil, emptyDir == nil, secret == nil, nfs == nil, persistentVolumeClaim == nil,
           downwardAPI == nil, configMap == nil, projected == nil, csi == nil, ephemeral == nil, image == nil {
            emptyDir = EmptyDirVolumeSource()
        }
        if hostPath != nil, hostPath?.type == nil { hostPath?.type = "" }
        if secret != nil, secret?.defaultMode == nil { secret?.defaultMode = 0o644 }
        if configMap != nil, configMap?.defaultMode == nil { configMap?.defaultMode = 0o644 }
        if var d = downwardAPI {
            if d.defaultMode == nil { d.defaultMode = 0o644 }
            d.items = d.items?.map { $0.defaulted() }
            downwardAPI = d
        }
        if var p = projected {
            if p.defaultMode == nil { p.defaultMode = 0o644 }
            p.sources = p.sources?.map { src in
                var src = src
                if var t = src.serviceAccountToken, t.expirationSeconds == nil {
                    t.expirationSeconds = 3600
                    src.serviceAccountToken = t
                }
                if var d = src.downwardAPI {
                    d.items = d.items?.map { $0.defaulted() }
                    src.downwardAPI = d
                }
                return src
            }
            projected = p
        }
    }
}

extension DownwardAPIVolumeFile {
    func defaulted() -> DownwardAPIVolumeFile {
        var f = self
        f.fieldRef?.applyDefaults()
        f.resourceFieldRef?.applyDefaults()
        return f
    }
}
