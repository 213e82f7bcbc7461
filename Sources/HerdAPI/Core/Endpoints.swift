import Foundation

public struct EndpointAddress: Codable, Hashable, Sendable {
    public var ip: String?
    public var hostname: String?
    public var nodeName: String?
    public var targetRef: ObjectReference?
    public init(ip: String, hostname: String? = nil, nodeName: String? = nil, targetRef: ObjectReference? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.nodeName = nodeName
        self.targetRef = targetRef
    }
}

/// core/v1 EndpointPort (also the shape of discovery/v1 ports, whose fields are all optional).
public struct EndpointPort: Codable, Hashable, Sendable {
    public var name: String?
    public var port: Int32?
    public var `protocol`: String?
    public var appProtocol: String?
    public init(name: String? = nil, port: Int32, protocol proto: String? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.protocol = proto
        self.appProtocol = appProtocol
    }
}

public struct EndpointSubset: Codable, Hashable, Sendable {
    public var addresses: [EndpointAddress]?
    public var notReadyAddresses: [EndpointAddress]?
    public var ports: [EndpointPort]?
    public init(addresses: [EndpointAddress]? = nil, notReadyAddresses: [EndpointAddress]? = nil,
                ports: [EndpointPort]? = nil) {
        self.addresses = addresses
        self.notReadyAddresses = notReadyAddresses
        self.ports = ports
    }
}

/// core/v1 Endpoints.
public struct Endpoints: APIObject, Hashable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "Endpoints"
    public var metadata: ObjectMeta
    public var subsets: [EndpointSubset]?

    public init(metadata: ObjectMeta = ObjectMeta(), subsets: [EndpointSubset]? = nil) {
        self.metadata = metadata
        self.subsets = subsets
    }

    public static let resourceInfo = ResourceInfo(group: "", version: "v1", kind: "Endpoints", plural: "endpoints",
                                                  singular: "endpoints", namespaced: true, shortNames: ["ep"])

    public mutating func applyDefaults() {
        guard var subsets else { return }
        for i in subsets.indices {
            guard var ports = subsets[i].ports else { continue }
            for j in ports.indices where (ports[j].protocol ?? "").isEmpty { ports[j].protocol = "TCP" }
            subsets[i].ports = ports
        }
        self.subsets = subsets
    }

    public func validate() -> [FieldError] {
        var errs = Validation.validateObjectMeta(metadata, namespaced: true)
        for (i, ss) in (subsets ?? []).enumerated() {
            let path = "subsets[\(i)]"
            if (ss.addresses ?? []).isEmpty && (ss.notReadyAddresses ?? []).isEmpty {
                errs.append(.required(path, "must specify `addresses` or `notReadyAddresses`"))
            }
            for (j, a) in (ss.addresses ?? []).enumerated() {
                errs += Endpoints.validateAddress(a, "\(path).addresses[\(j)]")
            }
            for (j, a) in (ss.notReadyAddresses ?? []).enumerated() {
                errs += Endpoints.validateAddress(a, "\(path).notReadyAddresses[\(j)]")
            }
            let ports = ss.ports ?? []
            for (j, p) in ports.enumerated() {
                let pp = "\(path).ports[\(j)]"
                let name = p.name ?? ""
                if ports.count > 1 && name.isEmpty {
                    errs.append(.required(pp + ".name"))
                } else if !name.isEmpty {
                    errs += Validation.dns1123Label(name).map { .invalid(pp + ".name", name, $0) }
                }
                errs += Validation.validatePortNumber(p.port ?? 0, path: pp + ".port")
                let proto = p.protocol ?? ""
                if proto.isEmpty {
                    errs.append(.required(pp + ".protocol"))
                } else if !Service.protocols.contains(proto) {
                    errs.append(.notSupported(pp + ".protocol", proto, Service.protocols))
                }
            }
        }
        return errs
    }

    static func validateAddress(_ a: EndpointAddress, _ path: String) -> [FieldError] {
        var errs: [FieldError] = []
        let ip = a.ip ?? ""
        if !Service.isIP(ip) {
            errs.append(.invalid(path + ".ip", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        } else if ip.hasPrefix("127.") || ip == "::1" {
            errs.append(.invalid(path + ".ip", ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
        }
        if let h = a.hostname, !h.isEmpty {
            errs += Validation.dns1123Label(h).map { .invalid(path + ".hostname", h, $0) }
        }
        if let n = a.nodeName, !n.isEmpty {
            errs += Validation.dns1123Subdomain(n).map { .invalid(path + ".nodeName", n, $0) }
        }
        return errs
    }

    public func validateUpdate(old: Endpoints) -> [FieldError] {
        validate() + Validation.validateObjectMetaUpdate(new: metadata, old: old.metadata)
    }

    public static var tableColumns: [TableColumnDefinition] {
        [TableColumns.name,
         TableColumnDefinition(name: "Endpoints", type: "string", description: "The set of all endpoints is the union of all subsets."),
         TableColumns.age]
    }

    public func tableCells(now: Date) -> [JSONValue] {
        [.string(metadata.name ?? ""), .string(endpointsCell), Workload.age(metadata, now)]
    }

    /// formatEndpoints: at most three "ip:port" entries, then " + N more...".
    var endpointsCell: String {
        let all = subsets ?? []
        if all.isEmpty { return "<none>" }
        let max = 3
        var list: [String] = []
        var more = false
        var count = 0
        for ss in all {
            let addrs = ss.addresses ?? []
            let ports = ss.ports ?? []
            if ports.isEmpty {
                // Headless services may have no ports.
                count += addrs.count
                for a in addrs {
                    if list.count == max { more = true; break }
                    list.append(a.ip ?? "")
                }
                continue
            }
            for p in ports {
                count += addrs.count
                for a in addrs {
                    if list.count == max { more = true; break }
                    let ip = a.ip ?? "", port = p.port ?? 0
                    list.append(ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)")
                }
            }
        }
        let joined = list.joined(separator: ",")
        if more { return "\(joined) + \(count - max) more..." }
        return joined.isEmpty ? "<none>" : joined
    }
}
