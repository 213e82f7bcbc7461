import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct ServicePort: Codable, Hashable, Sendable {
    public var name: String?
    public var `protocol`: String?
    public var appProtocol: String?
    public var port: Int32?
    public var targetPort: IntOrString?
    public var nodePort: Int32?

    public init(name: String? = nil, protocol proto: String? = nil, appProtocol: String? = nil, port: Int32,
                targetPort: IntOrString? = nil, nodePort: Int32? = nil) {
        self.name = name
        self.protocol = proto
        self.appProtocol = appProtocol
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
    }
}

public struct ClientIPConfig: Codable, Hashable, Sendable {
    public var timeoutSeconds: Int32?
    public init(timeoutSeconds: Int32? = nil) { self.timeoutSeconds = timeoutSeconds }
}

public struct SessionAffinityConfig: Codable, Hashable, Sendable {
    public var clientIP: ClientIPConfig?
    public init(clientIP: ClientIPConfig? = nil) { self.clientIP = clientIP }
}

public struct ServiceSpec: Codable, Hashable, Sendable {
    public var type: String?
    public var selector: [String: String]?
    public var ports: [ServicePort]?
    public var clusterIP: String?
    public var clusterIPs: [String]?
    public var externalIPs: [String]?
    public var sessionAffinity: String?
    public var sessionAffinityConfig: SessionAffinityConfig?
    public var loadBalancerIP: String?
    public var loadBalancerSourceRanges: [String]?
    public var loadBalancerClass: String?
    public var externalName: String?
    public var externalTrafficPolicy: String?
    public var internalTrafficPolicy: String?
    public var healthCheckNodePort: Int32?
    public var publishNotReadyAddresses: Bool?
    public var ipFamilies: [String]?
    public var ipFamilyPolicy: String?
    public var allocateLoadBalancerNodePorts: Bool?
    public var trafficDistribution: String?

    public init(type: String? = nil, selector: [String: String]? = nil, ports: [ServicePort]? = nil,
                clusterIP: String? = nil, clusterIPs: [String]? = nil, externalIPs: [String]? = nil,
                sessionAffinity: String? = nil, externalName: String? = nil) {
        self.type = type
        self.selector = selector
        self.ports = ports
        self.clusterIP = clusterIP
        self.clusterIPs = clusterIPs
        self.externalIPs = externalIPs
        self.sessionAffinity = sessionAffinity
        self.externalName = externalName
    }
}

public struct PortStatus: Codable, Hashable, Sendable {
    public var port: Int32?
    public var `protocol`: String?
    public var error: String?
    public init(port: Int32, protocol proto: String, error: String? = nil) {
        self.port = port
        self.protocol = proto
        self.error = error
    }
}

public struct LoadBalancerIngress: Codable, Hashable, Sendable {
    public var ip: String?
    public var hostname: String?
    public var ipMode: String?
    public var ports: [PortStatus]?
    public init(ip: String? = nil, hostname: String? = nil, ipMode: String? = nil, ports: [PortStatus]? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.ipMode = ipMode
        self.ports = ports
    }
}

public struct LoadBalancerStatus: Codable, Hashable, Sendable {
    public var ingress: [LoadBalancerIngress]?
    public init(ingress: [LoadBalancerIngress]? = nil) { self.ingress = ingress }
}

public struct ServiceStatus: Codable, Hashable, Sendable {
    public var loadBalancer: LoadBalancerStatus?
    public var conditions: [Condition]?
    public init(loadBalancer: LoadBalancerStatus? = nil, conditions: [Condition]? = nil) {
        self.loadBalancer = loadBalancer
        self.conditions = conditions
    }
}

/// core/v1 Service. ClusterIP and node-port allocation belong to the server; defaulting here is the
/// version defaulting plus the ipFamilies/ipFamilyPolicy and clusterIPs normalisation done on create.
public struct Service: APIObject, Hashable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "Service"
    public var metadata: ObjectMeta
    public var spec: ServiceSpec?
    public var status: ServiceStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: ServiceSpec? = nil, status: ServiceStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "Service", plural: "services",
                                                  singular: "service", namespaced: true, shortNames: ["svc"],
                                                  categories: ["all"], subresources: ["status", "proxy"])
    public static var statusFields: [String] { ["status"] }

    public static let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    public static let protocols = ["SCTP", "TCP", "UDP"]

    public var isHeadless: Bool { spec?.clusterIP == "None" }

    public mutating func applyDefaults() {
        var s = spec ?? ServiceSpec()
        if (s.sessionAffinity ?? "").isEmpty { s.sessionAffinity = "None" }
        if s.sessionAffinity == "None" {
            s.sessionAffinityConfig = nil
        } else if s.sessionAffinity == "ClientIP" && s.sessionAffinityConfig?.clientIP?.timeoutSeconds == nil {
            s.sessionAffinityConfig = SessionAffinityConfig(clientIP: ClientIPConfig(timeoutSeconds: 10800))
        }
        if (s.type ?? "").isEmpty { s.type = "ClusterIP" }
        if var ports = s.ports {
            for i in ports.indices {
                if (ports[i].protocol ?? "").isEmpty { ports[i].protocol = "TCP" }
                switch ports[i].targetPort {
                case nil, .int(0)?, .string("")?: ports[i].targetPort = .int(ports[i].port ?? 0)
                default: break
                }
            }
            s.ports = ports
        }
        let type = s.type ?? "ClusterIP"
        if (type == "NodePort" || type == "LoadBalancer") && (s.externalTrafficPolicy ?? "").isEmpty {
            s.externalTrafficPolicy = "Cluster"
        }
        if type != "ExternalName" && s.internalTrafficPolicy == nil { s.internalTrafficPolicy = "Cluster" }
        if type == "LoadBalancer" && s.allocateLoadBalancerNodePorts == nil { s.allocateLoadBalancerNodePorts = true }
        // ExternalName services get no cluster IP and no IP families.
        if type != "ExternalName" {
            if let ip = s.clusterIP, !ip.isEmpty, (s.clusterIPs ?? []).isEmpty { s.clusterIPs = [ip] }
            if (s.clusterIP ?? "").isEmpty, let first = s.clusterIPs?.first { s.clusterIP = first }
            let headlessWithoutSelector = s.clusterIP == "None" && (s.selector ?? [:]).isEmpty
            if s.ipFamilyPolicy == nil {
                // A single-stack cluster: selectorless headless services ask for every family, as upstream.
                s.ipFamilyPolicy = headlessWithoutSelector ? "RequireDualStack" : "SingleStack"
            }
            if (s.ipFamilies ?? []).isEmpty {
                let families = (s.clusterIPs ?? []).filter { $0 != "None" && !$0.isEmpty }.map { Service.isIPv6($0) ? "IPv6" : "IPv4" }
                s.ipFamilies = families.isEmpty ? ["IPv4"] : families
            }
        }
        spec = s
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true, nameValidator: Validation.nameIsDNS1035Label)
        let s = spec ?? ServiceSpec()
        let type = s.type ?? ""
        if !Service.types.contains(type) {
            errs.append(.notSupported("spec.type", type, Service.types))
        }
        let ports = s.ports ?? []
        if type == "ExternalName" {
            if !(s.clusterIPs ?? []).isEmpty || !(s.clusterIP ?? "").isEmpty {
                errs.append(.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
            }
            if s.ipFamilyPolicy != nil {
                errs.append(.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
            }
            if !(s.ipFamilies ?? []).isEmpty {
                errs.append(.forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
            }
            let ext = s.externalName ?? ""
            if ext.isEmpty {
                errs.append(.required("spec.externalName"))
            } else {
                let trimmed = ext.hasSuffix(".") ? String(ext.dropLast()) : ext
                errs += Validation.dns1123Subdomain(trimmed).map { .invalid("spec.externalName", ext, $0) }
            }
        } else if ports.isEmpty && !isHeadless {
            errs.append(.required("spec.ports"))
        }
        var names = Set<String>()
        for (i, p) in ports.enumerated() {
            let path = "spec.ports[\(i)]"
            let name = p.name ?? ""
            if ports.count > 1 && name.isEmpty {
                errs.append(.required(path + ".name"))
            } else if !name.isEmpty {
                errs += Validation.dns1123Label(name).map { .invalid(path + ".name", name, $0) }
                if !names.insert(name).inserted { errs.append(.duplicate(path + ".name", name)) }
            }
            errs += Validation.validatePortNumber(p.port ?? 0, path: path + ".port")
            let proto = p.protocol ?? ""
            if proto.isEmpty {
                errs.append(.required(path + ".protocol"))
            } else if !Service.protocols.contains(proto) {
                errs.append(.notSupported(path + ".protocol", proto, Service.protocols))
            }
            switch p.targetPort {
            case .int(let t)?:
                if !(1...65535).contains(t) {
                    errs.append(.invalid(path + ".targetPort", "\(t)", "must be between 1 and 65535, inclusive"))
                }
            case .string(let t)?:
                errs += Validation.portName(t).map { .invalid(path + ".targetPort", t, $0) }
            case nil:
                break
            }
            if let ap = p.appProtocol {
                errs += Validation.isQualifiedName(ap).map { .invalid(path + ".appProtocol", ap, $0) }
            }
            if let np = p.nodePort, np != 0, type != "NodePort" && type != "LoadBalancer" {
                errs.append(.forbidden(path + ".nodePort", "may not be used when `type` is '\(type)'"))
            }
        }
        if let ip = s.clusterIP, !ip.isEmpty, ip != "None", !Service.isIP(ip) {
            errs.append(.invalid("spec.clusterIPs[0]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        }
        if let ip = s.clusterIP, !ip.isEmpty, let first = s.clusterIPs?.first, first != ip {
            errs.append(.invalid("spec.clusterIPs", first, "first value must match `clusterIP`"))
        }
        if isHeadless && (type == "NodePort" || type == "LoadBalancer") {
            errs.append(.invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for \(type) services"))
        }
        for (i, ip) in (s.externalIPs ?? []).enumerated() where !Service.isIP(ip) {
            errs.append(.invalid("spec.externalIPs[\(i)]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        }
        let affinity = s.sessionAffinity ?? ""
        if !["ClientIP", "None"].contains(affinity) {
            errs.append(.notSupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
        }
        if affinity == "ClientIP" {
            let t = s.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 0
            if t <= 0 || t > 86400 {
                errs.append(.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "\(t)", "must be greater than 0 and less than 86400"))
            }
        } else if s.sessionAffinityConfig != nil {
            errs.append(.invalid("spec.sessionAffinityConfig", "", "must not be set when session affinity is \(affinity)"))
        }
        if let p = s.externalTrafficPolicy, !p.isEmpty {
            if type != "NodePort" && type != "LoadBalancer" {
                errs.append(.invalid("spec.externalTrafficPolicy", p, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
            } else if !["Cluster", "Local"].contains(p) {
                errs.append(.notSupported("spec.externalTrafficPolicy", p, ["Cluster", "Local"]))
            }
        }
        if let p = s.internalTrafficPolicy, !["Cluster", "Local"].contains(p) {
            errs.append(.notSupported("spec.internalTrafficPolicy", p, ["Cluster", "Local"]))
        }
        if let p = s.ipFamilyPolicy, !["SingleStack", "PreferDualStack", "RequireDualStack"].contains(p) {
            errs.append(.notSupported("spec.ipFamilyPolicy", p, ["PreferDualStack", "RequireDualStack", "SingleStack"]))
        }
        for (i, f) in (s.ipFamilies ?? []).enumerated() where !["IPv4", "IPv6"].contains(f) {
            errs.append(.notSupported("spec.ipFamilies[\(i)]", f, ["IPv4", "IPv6"]))
        }
        errs += Validation.validateLabels(s.selector ?? [:], path: "spec.selector")
        return errs
    }

    public func validateUpdate(old: Service) -> [FieldError] {
        var errs = validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
        let newType = spec?.type ?? "", oldType = old.spec?.type ?? ""
        // Allocated IPs stay once set, except when the service moves to or from ExternalName.
        if newType != "ExternalName" && oldType != "ExternalName",
           let oldIP = old.spec?.clusterIP, !oldIP.isEmpty,
           let newIP = spec?.clusterIP, !newIP.isEmpty, newIP != oldIP {
            errs.append(.invalid("spec.clusterIPs[0]", newIP, "may not change once set"))
        }
        return errs
    }

    /// The update preparation of upstream's service registry, to run after `applyDefaults()` and before
    /// `validateUpdate(old:)`: values the server allocated (cluster IPs, node ports, health-check node port)
    /// are kept when an update (e.g. a PUT of the original manifest) leaves them out, and values that only
    /// the old type used are dropped when the type changes and the user left them as they were.
    public mutating func prepareForUpdate(old: Service) {
        var s = spec ?? ServiceSpec()
        let o = old.spec ?? ServiceSpec()
        let type = s.type ?? "", oldType = o.type ?? ""
        func needsClusterIP(_ t: String) -> Bool { t != "ExternalName" }
        func needsNodePort(_ t: String) -> Bool { t == "NodePort" || t == "LoadBalancer" }
        func needsHealthCheck(_ t: String, _ policy: String?) -> Bool { t == "LoadBalancer" && policy == "Local" }

        // patchAllocatedValues
        if needsClusterIP(oldType) && needsClusterIP(type) {
            if (s.clusterIP ?? "").isEmpty { s.clusterIP = o.clusterIP }
            if (s.clusterIPs ?? []).isEmpty && !(o.clusterIPs ?? []).isEmpty { s.clusterIPs = o.clusterIPs }
        }
        if needsNodePort(oldType) && needsNodePort(type), var ports = s.ports {
            let usedByNew = Set(ports.compactMap(\.nodePort).filter { $0 != 0 })
            let oldByName = Dictionary((o.ports ?? []).map { ($0.name ?? "", $0.nodePort ?? 0) }, uniquingKeysWith: { a, _ in a })
            for i in ports.indices where (ports[i].nodePort ?? 0) == 0 {
                if let previous = oldByName[ports[i].name ?? ""], previous != 0, !usedByNew.contains(previous) {
                    ports[i].nodePort = previous
                }
            }
            s.ports = ports
        }
        if needsHealthCheck(oldType, o.externalTrafficPolicy) && needsHealthCheck(type, s.externalTrafficPolicy)
            && (s.healthCheckNodePort ?? 0) == 0 {
            s.healthCheckNodePort = o.healthCheckNodePort
        }

        // dropTypeDependentFields
        if needsClusterIP(oldType) && !needsClusterIP(type) {
            if s.clusterIP == o.clusterIP && s.clusterIPs == o.clusterIPs {
                s.clusterIP = nil
                s.clusterIPs = nil
            }
            if s.ipFamilies == o.ipFamilies { s.ipFamilies = nil }
            if s.ipFamilyPolicy == o.ipFamilyPolicy { s.ipFamilyPolicy = nil }
        }
        if needsNodePort(oldType) && !needsNodePort(type), var ports = s.ports,
           ports.map(\.nodePort) == (o.ports ?? []).map(\.nodePort) {
            for i in ports.indices { ports[i].nodePort = nil }
            s.ports = ports
        }
        if needsHealthCheck(oldType, o.externalTrafficPolicy) && !needsHealthCheck(type, s.externalTrafficPolicy)
            && s.healthCheckNodePort == o.healthCheckNodePort {
            s.healthCheckNodePort = nil
        }
        if oldType == "LoadBalancer" && type != "LoadBalancer" {
            if s.allocateLoadBalancerNodePorts == o.allocateLoadBalancerNodePorts { s.allocateLoadBalancerNodePorts = nil }
            if s.loadBalancerClass == o.loadBalancerClass { s.loadBalancerClass = nil }
        }
        if needsNodePort(oldType) && !needsNodePort(type) && s.externalTrafficPolicy == o.externalTrafficPolicy {
            s.externalTrafficPolicy = nil
        }
        spec = s
        if type != "LoadBalancer", status?.loadBalancer != nil {
            status?.loadBalancer = LoadBalancerStatus()
        }
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Type", type: "string", description: "type determines how the Service is exposed."),
         TableColumnDefinition(name: "Cluster-IP", type: "string", description: "clusterIP is the IP address of the service."),
         TableColumnDefinition(name: "External-IP", type: "string", description: "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
         TableColumnDefinition(name: "Port(s)", type: "string", description: "The list of ports that are exposed by this service."),
         TableColumns.age,
         Workload.selectorColumn("Route service traffic to pods with label keys and values matching this selector.")]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        let s = spec ?? ServiceSpec()
        let ports = (s.ports ?? []).map { p -> String in
            let proto = p.protocol ?? "", port = p.port ?? 0
            if let np = p.nodePort, np > 0 { return "\(port):\(np)/\(proto)" }
            return "\(port)/\(proto)"
        }.joined(separator: ",")
        return [.string(metadata.name ?? ""), .string(s.type ?? ""), .string(s.clusterIPs?.first ?? "<none>"),
                .string(externalIPCell), .string(ports.isEmpty ? "<none>" : ports), Workload.age(metadata, now),
                .string(TableColumns.formatLabels(s.selector))]
    }

    /// getServiceExternalIP with wide output (the server always prints wide).
    var externalIPCell: String {
        let s = spec ?? ServiceSpec()
        let external = s.externalIPs ?? []
        switch s.type ?? "" {
        case "ClusterIP", "NodePort":
            return external.isEmpty ? "<none>" : external.joined(separator: ",")
        case "LoadBalancer":
            let lb = (status?.loadBalancer?.ingress ?? []).compactMap { i -> String? in
                if let ip = i.ip, !ip.isEmpty { return ip }
                if let h = i.hostname, !h.isEmpty { return h }
                return nil
            }
            if !external.isEmpty { return (lb + external).joined(separator: ",") }
            return lb.isEmpty ? "<pending>" : lb.joined(separator: ",")
        case "ExternalName":
            return s.externalName ?? ""
        default:
            return "<unknown>"
        }
    }

    // MARK: - address and name checks used by Service, Endpoints and EndpointSlice

    static func isIPv4(_ s: String) -> Bool {
        var addr = in_addr()
        return s.withCString { inet_pton(AF_INET, $0, &addr) } == 1
    }

    static func isIPv6(_ s: String) -> Bool {
        var addr = in6_addr()
        return s.withCString { inet_pton(AF_INET6, $0, &addr) } == 1
    }

    static func isIP(_ s: String) -> Bool { isIPv4(s) || isIPv6(s) }
}

/// meta/v1 Condition (used by Service status).
public struct Condition: Codable, Hashable, Sendable {
    public var type: String?
    public var status: String?
    public var observedGeneration: Int64?
    public var lastTransitionTime: Time?
    public var reason: String?
    public var message: String?
    public init(type: String, status: String, observedGeneration: Int64? = nil, lastTransitionTime: Time? = nil,
                reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}
