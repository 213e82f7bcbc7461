import Foundation

public struct EndpointConditions: Codable, Hashable, Sendable {
    public var ready: Bool?
    public var serving: Bool?
    public var terminating: Bool?
    public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }
}

public struct ForZone: Codable, Hashable, Sendable {
    public var name: String?
    public init(name: String) { self.name = name }
}

public struct EndpointHints: Codable, Hashable, Sendable {
    public var forZones: [ForZone]?
    public init(forZones: [ForZone]? = nil) { self.forZones = forZones }
}

/// discovery/v1 Endpoint (one backend of a slice).
public struct EndpointSliceEndpoint: Codable, Hashable, Sendable {
    public var addresses: [String]?
    public var conditions: EndpointConditions?
    public var hostname: String?
    public var targetRef: ObjectReference?
    public var deprecatedTopology: [String: String]?
    public var nodeName: String?
    public var zone: String?
    public var hints: EndpointHints?
    public init(addresses: [String], conditions: EndpointConditions? = nil, hostname: String? = nil,
                targetRef: ObjectReference? = nil, nodeName: String? = nil, zone: String? = nil) {
        self.addresses = addresses
        self.conditions = conditions
        self.hostname = hostname
        self.targetRef = targetRef
        self.nodeName = nodeName
        self.zone = zone
    }
}

/// discovery/v1 EndpointPort: unlike core/v1's, every field is optional (no port means all ports).
public struct EndpointSlicePort: Codable, Hashable, Sendable {
    public var name: String?
    public var `protocol`: String?
    public var port: Int32?
    public var appProtocol: String?
    public init(name: String? = nil, protocol proto: String? = nil, port: Int32? = nil, appProtocol: String? = nil) {
        self.name = name
        self.protocol = proto
        self.port = port
        self.appProtocol = appProtocol
    }
}

/// discovery.k8s.io/v1 EndpointSlice.
public struct EndpointSlice: APIObject, Hashable {
    public var apiVersion: String? = "discovery.k8s.io/v1"
    public var kind: String? = "EndpointSlice"
    public var metadata: ObjectMeta
    /// "IPv4", "IPv6" or "FQDN".
    public var addressType: String?
    public var endpoints: [EndpointSliceEndpoint]?
    public var ports: [EndpointSlicePort]?

    public init(metadata: ObjectMeta = ObjectMeta(), addressType: String? = nil,
                endpoints: [EndpointSliceEndpoint]? = nil, ports: [EndpointSlicePort]? = nil) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    public static let resourceInfo = ResourceInfo(group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice",
                                                  plural: "endpointslices", singular: "endpointslice", namespaced: true)

    public static let addressTypes = ["FQDN", "IPv4", "IPv6"]

    public mutating func applyDefaults() {
        guard var ports else { return }
        for i in ports.indices {
            if ports[i].name == nil { ports[i].name = "" }
            if ports[i].protocol == nil { ports[i].protocol = "TCP" }
        }
        self.ports = ports
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        let type = addressType ?? ""
        if type.isEmpty {
            errs.append(.required("addressType"))
        } else if !EndpointSlice.addressTypes.contains(type) {
            errs.append(.notSupported("addressType", type, EndpointSlice.addressTypes))
        }
        let eps = endpoints ?? []
        if eps.count > 1000 {
            errs.append(FieldError(.tooMany, "endpoints", "\(eps.count)", "must have at most 1000 items"))
        }
        for (i, ep) in eps.enumerated() {
            let p = "endpoints[\(i)]"
            let addresses = ep.addresses ?? []
            if addresses.isEmpty {
                errs.append(.required(p + ".addresses", "must contain at least 1 address"))
            } else if addresses.count > 100 {
                errs.append(FieldError(.tooMany, p + ".addresses", "\(addresses.count)", "must have at most 100 items"))
            }
            for (j, a) in addresses.enumerated() {
                let ap = "\(p).addresses[\(j)]"
                switch type {
                case "IPv4": if !Service.isIPv4(a) { errs.append(.invalid(ap, a, "must be a valid IPv4 address")) }
                case "IPv6": if !Service.isIPv6(a) { errs.append(.invalid(ap, a, "must be a valid IPv6 address")) }
                case "FQDN": errs += Validation.dns1123Subdomain(a).map { .invalid(ap, a, $0) }
                default: break
                }
            }
            if let h = ep.hostname, !h.isEmpty {
                errs += Validation.dns1123Label(h).map { .invalid(p + ".hostname", h, $0) }
            }
            if let n = ep.nodeName, !n.isEmpty {
                errs += Validation.dns1123Subdomain(n).map { .invalid(p + ".nodeName", n, $0) }
            }
        }
        let ps = ports ?? []
        if ps.count > 100 {
            errs.append(FieldError(.tooMany, "ports", "\(ps.count)", "must have at most 100 items"))
        }
        var names = Set<String>()
        for (i, port) in ps.enumerated() {
            let p = "ports[\(i)]"
            let name = port.name ?? ""
            if !name.isEmpty {
                errs += Validation.dns1123Label(name).map { .invalid(p + ".name", name, $0) }
            }
            if !names.insert(name).inserted { errs.append(.duplicate(p + ".name", name)) }
            if let proto = port.protocol, !Service.protocols.contains(proto) {
                errs.append(.notSupported(p + ".protocol", proto, Service.protocols))
            }
            if let n = port.port, !(1...65535).contains(n) {
                errs.append(.invalid(p + ".port", "\(n)", "must be between 1 and 65535, inclusive"))
            }
            if let ap = port.appProtocol {
                errs += Validation.isQualifiedName(ap).map { .invalid(p + ".appProtocol", ap, $0) }
            }
        }
        return errs
    }

    public func validateUpdate(old: EndpointSlice) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
            + Workload.immutable(addressType, old.addressType, "addressType", addressType ?? "")
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "AddressType", type: "string", description: "addressType specifies the type of address carried by this EndpointSlice."),
         TableColumnDefinition(name: "Ports", type: "string", description: "ports specifies the list of network ports exposed by each endpoint in this slice."),
         TableColumnDefinition(name: "Endpoints", type: "string", description: "endpoints is a list of unique endpoints in this slice."),
         TableColumns.age]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        let portNames = (ports ?? []).map { p -> String in
            if let n = p.port { return "\(n)" }
            if let name = p.name { return name }
            return "*"
        }
        let addresses = (endpoints ?? []).flatMap { $0.addresses ?? [] }
        return [.string(metadata.name ?? ""), .string(addressType ?? ""), .string(EndpointSlice.listWithMore(portNames)),
                .string(EndpointSlice.listWithMore(addresses)), Workload.age(metadata, now)]
    }

    /// listWithMoreString: the first three items, " + N more..." for the rest, "<unset>" when empty.
    static func listWithMore(_ items: [String]) -> String {
        let max = 3
        let joined = items.prefix(max).joined(separator: ",")
        if items.count > max { return "\(joined) + \(items.count - max) more..." }
        return joined.isEmpty ? "<unset>" : joined
    }
}
