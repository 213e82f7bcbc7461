import Foundation
import HerdAPI

/// How the cluster DNS answers one question.
public enum ClusterDNSResolution: Hashable, Sendable {
    /// From the cluster's records; NXDOMAIN and NODATA (no answers) get the zone's SOA as authority.
    case answer(rcode: UInt8, answers: [DNSResourceRecord], additionals: [DNSResourceRecord])
    /// An ExternalName service: the CNAME, then the target's records of the asked type (if any).
    case alias(DNSResourceRecord, target: String)
    /// Not a cluster name: the host's resolvers answer.
    case forward
    /// A cluster name asked before the Service and EndpointSlice caches synced.
    case notReady
}

/// The records of the cluster DNS zone, built from Services and EndpointSlices like CoreDNS's kubernetes
/// plugin with `pods insecure` (names as in the Kubernetes DNS specification):
/// `<svc>.<ns>.svc.<zone>` (ClusterIP, or a headless service's ready endpoints), `<endpoint>.<svc>.<ns>.svc`
/// (the endpoint's hostname or its address with dashes), `_<port>._<proto>.<svc>.<ns>.svc` SRV,
/// `a-b-c-d.<ns>.pod` and PTR records for ClusterIPs and endpoint addresses.
public struct ClusterDNSRecords: Sendable {
    struct Port: Hashable, Sendable {
        var name: String
        /// Lower case: tcp, udp, sctp.
        var proto: String
        var port: UInt16
    }

    struct Endpoint: Hashable, Sendable {
        /// The first label of the endpoint's name: its hostname, else its address with dashes.
        var label: String
        var address: String
        var ports: [Port]
    }

    enum Kind: Hashable, Sendable {
        case clusterIP([String])
        case headless
        case externalName(String)
    }

    struct ServiceEntry: Sendable {
        var namespace: String
        var name: String
        var kind: Kind
        var ports: [Port]
        /// Ready endpoints (all of them when the service publishes not-ready addresses), by address.
        var endpoints: [Endpoint]
    }

    /// The zone, lower case, no trailing dot ("cluster.local").
    public let zone: String
    public let ttl: UInt32
    /// The address `ns.dns.<zone>` resolves to (the server's own), if it is a specific address.
    let nameserverAddress: String?
    /// By "name.namespace".
    var services: [String: ServiceEntry] = [:]
    var namespaces: Set<String> = []
    /// PTR targets by IPv4 address.
    var reverse: [UInt32: String] = [:]
    /// The SOA serial: changes when the records do.
    var serial: UInt32

    public init(zone: String, ttl: UInt32 = 5, nameserverAddress: String? = nil, services: [HerdAPI.Service],
                slices: [EndpointSlice], serial: UInt32 = 1) {
        self.zone = DNSName.canonical(zone)
        self.ttl = ttl
        self.nameserverAddress = nameserverAddress.flatMap { IPv4CIDR.parseAddress($0) == nil || $0 == "0.0.0.0" ? nil : $0 }
        self.serial = serial
        var slicesByService: [String: [EndpointSlice]] = [:]
        for slice in slices {
            guard let svc = slice.metadata.labels?["kubernetes.io/service-name"], let ns = slice.metadata.namespace else { continue }
            slicesByService["\(svc).\(ns)", default: []].append(slice)
        }
        var headlessReverse: [UInt32: String] = [:]
        var otherReverse: [UInt32: String] = [:]
        for service in services {
            guard let name = service.metadata.name, let ns = service.metadata.namespace, let spec = service.spec else { continue }
            let key = "\(name).\(ns)".lowercased()
            let kind: Kind
            if spec.type == "ExternalName" {
                kind = .externalName(DNSName.canonical(spec.externalName ?? ""))
            } else if spec.clusterIP == "None" {
                kind = .headless
            } else {
                let ips = (spec.clusterIPs?.isEmpty == false ? spec.clusterIPs! : [spec.clusterIP].compactMap { $0 })
                kind = .clusterIP(ips.filter { DNSRecordData.address($0) != nil })
            }
            let ports = (spec.ports ?? []).compactMap { p -> Port? in
                guard let port = p.port, let p16 = UInt16(exactly: port) else { return nil }
                return Port(name: (p.name ?? "").lowercased(), proto: (p.protocol ?? "TCP").lowercased(), port: p16)
            }
            var endpoints: [Endpoint] = []
            if case .externalName = kind {} else {
                endpoints = Self.endpoints(slicesByService[key] ?? [], publishNotReady: spec.publishNotReadyAddresses ?? false)
            }
            let entry = ServiceEntry(namespace: ns.lowercased(), name: name.lowercased(), kind: kind, ports: ports, endpoints: endpoints)
            self.services[key] = entry
            namespaces.insert(ns.lowercased())
            let serviceName = "\(entry.name).\(entry.namespace).svc.\(self.zone)"
            if case .clusterIP(let ips) = kind {
                for ip in ips { if let v4 = IPv4CIDR.parseAddress(ip) { reverse[v4] = serviceName } }
            }
            for e in endpoints {
                guard let v4 = IPv4CIDR.parseAddress(e.address) else { continue }
                if kind == .headless { headlessReverse[v4] = headlessReverse[v4] ?? "\(e.label).\(serviceName)" }
                else { otherReverse[v4] = otherReverse[v4] ?? "\(e.label).\(serviceName)" }
            }
        }
        // a ClusterIP names its service; an endpoint address names a headless service's endpoint before any other
        reverse.merge(headlessReverse) { current, _ in current }
        reverse.merge(otherReverse) { current, _ in current }
    }

    /// The endpoints that get records, each address once (an address in several slices keeps every port).
    static func endpoints(_ slices: [EndpointSlice], publishNotReady: Bool) -> [Endpoint] {
        var byAddress: [String: Endpoint] = [:]
        for slice in slices {
            guard slice.addressType == nil || slice.addressType == "IPv4" || slice.addressType == "IPv6" else { continue }
            let ports = (slice.ports ?? []).compactMap { p -> Port? in
                guard let port = p.port, let p16 = UInt16(exactly: port) else { return nil }
                return Port(name: (p.name ?? "").lowercased(), proto: (p.protocol ?? "TCP").lowercased(), port: p16)
            }
            for ep in slice.endpoints ?? [] {
                guard publishNotReady || ep.conditions?.ready != false else { continue }
                for address in ep.addresses ?? [] where DNSRecordData.address(address) != nil {
                    let label = ep.hostname.flatMap { $0.isEmpty ? nil : $0.lowercased() } ?? dashed(address)
                    var e = byAddress[address] ?? Endpoint(label: label, address: address, ports: [])
                    for p in ports where !e.ports.contains(p) { e.ports.append(p) }
                    byAddress[address] = e
                }
            }
        }
        return byAddress.values.sorted { $0.address < $1.address }
    }

    /// CoreDNS's name for an endpoint without hostname: its address with `-` for `.` (or `:`).
    static func dashed(_ address: String) -> String {
        address.replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: ":", with: "-")
    }

    public var soa: DNSResourceRecord {
        DNSResourceRecord(name: zone, type: .soa, ttl: ttl,
                          data: .soa(mname: "ns.dns.\(zone)", rname: "hostmaster.\(zone)", serial: serial,
                                     refresh: 7200, retry: 1800, expire: 86400, minimum: ttl))
    }

    // MARK: answering

    /// The answer to `name` (as asked: its case is kept in the answers) of type `type`.
    public func resolve(name: String, type: DNSType) -> ClusterDNSResolution {
        let n = DNSName.canonical(name)
        let asked = name.hasSuffix(".") ? String(name.dropLast()) : name
        if n.hasSuffix(".in-addr.arpa") {
            return reverseLookup(n, asked: asked, type: type)
        }
        guard n == zone || n.hasSuffix("." + zone) else { return .forward }
        let rest = n == zone ? "" : String(n.dropLast(zone.count + 1))
        // a label holding an escaped byte never names anything here
        if rest.contains("\\") { return nxdomain }
        let labels = rest.isEmpty ? [] : rest.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let last = labels.last else { return apex(asked: asked, type: type) }
        switch (labels.count, last) {
        case (1, "svc"), (1, "pod"), (1, "dns"), (2, "pod"):
            return nodata  // names with only names below them
        case (1, "dns-version"):
            // the DNS specification's schema version record
            return filter([DNSResourceRecord(name: asked, type: .txt, ttl: ttl, data: .txt(["1.1.0"]))], type: type)
        case (2, "dns") where labels[0] == "ns":
            return filter(nameserverAddress.flatMap { DNSRecordData.address($0) }
                .map { [DNSResourceRecord(name: asked, type: $0.type, ttl: ttl, data: $0)] } ?? [], type: type)
        case (2, "svc"):
            return namespaces.contains(labels[0]) ? nodata : nxdomain
        case (3, "svc"):
            return serviceRecords(asked: asked, type: type, service: labels[0], namespace: labels[1])
        case (4, "svc"):
            return endpointRecords(asked: asked, type: type, endpoint: labels[0], service: labels[1], namespace: labels[2])
        case (5, "svc") where labels[0].hasPrefix("_") && labels[1].hasPrefix("_"):
            return portRecords(asked: asked, type: type, port: String(labels[0].dropFirst()), proto: String(labels[1].dropFirst()),
                               service: labels[2], namespace: labels[3])
        case (3, "pod"):
            return podRecords(asked: asked, type: type, label: labels[0])
        default:
            return nxdomain
        }
    }

    var nxdomain: ClusterDNSResolution { .answer(rcode: DNSResponseCode.nameError, answers: [], additionals: []) }
    var nodata: ClusterDNSResolution { .answer(rcode: DNSResponseCode.noError, answers: [], additionals: []) }

    /// The records of a name that exists, narrowed to the asked type (none of it: NODATA).
    func filter(_ records: [DNSResourceRecord], type: DNSType, additionals: [DNSResourceRecord] = []) -> ClusterDNSResolution {
        let answers = type == .any ? records : records.filter { $0.type == type }
        // additional records only for what the answer names (SRV targets)
        let extra = answers.contains { $0.type == .srv } ? additionals : []
        return .answer(rcode: DNSResponseCode.noError, answers: answers, additionals: extra)
    }

    func apex(asked: String, type: DNSType) -> ClusterDNSResolution {
        var records = [soa]
        records[0].name = asked
        var additionals: [DNSResourceRecord] = []
        records.append(DNSResourceRecord(name: asked, type: .ns, ttl: ttl, data: .ns("ns.dns.\(zone)")))
        if let a = nameserverAddress.flatMap({ DNSRecordData.address($0) }) {
            additionals.append(DNSResourceRecord(name: "ns.dns.\(zone)", type: a.type, ttl: ttl, data: a))
        }
        let answers = type == .any ? records : records.filter { $0.type == type }
        return .answer(rcode: DNSResponseCode.noError, answers: answers, additionals: answers.contains { $0.type == .ns } ? additionals : [])
    }

    func lookup(_ service: String, _ namespace: String) -> ServiceEntry? {
        services["\(service).\(namespace)"]
    }

    func serviceName(_ s: ServiceEntry) -> String { "\(s.name).\(s.namespace).svc.\(zone)" }

    func endpointName(_ e: Endpoint, _ s: ServiceEntry) -> String { "\(e.label).\(serviceName(s))" }

    func addressRecord(_ name: String, _ address: String) -> DNSResourceRecord? {
        DNSRecordData.address(address).map { DNSResourceRecord(name: name, type: $0.type, ttl: ttl, data: $0) }
    }

    /// SRV records with CoreDNS's weights: 100 shared out among the records of one priority.
    func srv(_ name: String, _ targets: [(port: UInt16, target: String)]) -> [DNSResourceRecord] {
        let weight = UInt16(100 / max(1, targets.count))
        return targets.map { DNSResourceRecord(name: name, type: .srv, ttl: ttl, data: .srv(priority: 0, weight: weight, port: $0.port, target: $0.target)) }
    }

    func serviceRecords(asked: String, type: DNSType, service: String, namespace: String) -> ClusterDNSResolution {
        guard let s = lookup(service, namespace) else { return nxdomain }
        switch s.kind {
        case .externalName(let target):
            guard !target.isEmpty else { return nodata }
            return .alias(DNSResourceRecord(name: asked, type: .cname, ttl: ttl, data: .cname(target)), target: target)
        case .clusterIP(let ips):
            let addresses = ips.compactMap { addressRecord(asked, $0) }
            let targets = s.ports.map { (port: $0.port, target: serviceName(s)) }
            let additionals = ips.compactMap { addressRecord(serviceName(s), $0) }
            return filter(addresses + srv(asked, targets), type: type, additionals: additionals)
        case .headless:
            // CoreDNS: a headless service without ready endpoints has no name
            guard !s.endpoints.isEmpty else { return nxdomain }
            let addresses = s.endpoints.compactMap { addressRecord(asked, $0.address) }
            let targets = s.endpoints.flatMap { e in e.ports.map { (port: $0.port, target: endpointName(e, s)) } }
            let additionals = s.endpoints.compactMap { addressRecord(endpointName($0, s), $0.address) }
            return filter(addresses + srv(asked, targets), type: type, additionals: additionals)
        }
    }

    /// `<endpoint>.<svc>.<ns>.svc`: an endpoint of any service by hostname or dashed address (as CoreDNS).
    func endpointRecords(asked: String, type: DNSType, endpoint: String, service: String, namespace: String) -> ClusterDNSResolution {
        guard let s = lookup(service, namespace) else { return nxdomain }
        let matches = s.endpoints.filter { $0.label == endpoint || Self.dashed($0.address) == endpoint }
        guard !matches.isEmpty else { return nxdomain }
        let addresses = matches.compactMap { addressRecord(asked, $0.address) }
        let targets = matches.flatMap { e in e.ports.map { (port: $0.port, target: endpointName(e, s)) } }
        let additionals = matches.compactMap { addressRecord(endpointName($0, s), $0.address) }
        return filter(addresses + srv(asked, targets), type: type, additionals: additionals)
    }

    /// `_<port>._<proto>.<svc>.<ns>.svc`: a named port's SRV records; its address records for other types.
    func portRecords(asked: String, type: DNSType, port: String, proto: String, service: String, namespace: String) -> ClusterDNSResolution {
        guard let s = lookup(service, namespace) else { return nxdomain }
        func matches(_ p: Port) -> Bool { !p.name.isEmpty && p.name == port && p.proto == proto }
        switch s.kind {
        case .externalName:
            return nxdomain
        case .clusterIP(let ips):
            let ports = s.ports.filter(matches)
            guard !ports.isEmpty else { return nxdomain }
            let addresses = ips.compactMap { addressRecord(asked, $0) }
            let additionals = ips.compactMap { addressRecord(serviceName(s), $0) }
            return filter(addresses + srv(asked, ports.map { (port: $0.port, target: serviceName(s)) }), type: type,
                          additionals: additionals)
        case .headless:
            var targets: [(port: UInt16, target: String)] = []
            var endpoints: [Endpoint] = []
            for e in s.endpoints {
                let ports = e.ports.filter(matches)
                guard !ports.isEmpty else { continue }
                endpoints.append(e)
                targets += ports.map { (port: $0.port, target: endpointName(e, s)) }
            }
            guard !targets.isEmpty else { return nxdomain }
            let addresses = endpoints.compactMap { addressRecord(asked, $0.address) }
            let additionals = endpoints.compactMap { addressRecord(endpointName($0, s), $0.address) }
            return filter(addresses + srv(asked, targets), type: type, additionals: additionals)
        }
    }

    /// `a-b-c-d.<ns>.pod` (insecure mode: any address, any namespace; IPv6 with `-` for `:`).
    func podRecords(asked: String, type: DNSType, label: String) -> ClusterDNSResolution {
        let v4 = label.replacingOccurrences(of: "-", with: ".")
        if IPv4CIDR.parseAddress(v4) != nil, let r = addressRecord(asked, v4) { return filter([r], type: type) }
        let v6 = label.replacingOccurrences(of: "-", with: ":")
        if v6.contains(":"), let r = addressRecord(asked, v6), r.type == .aaaa { return filter([r], type: type) }
        return nxdomain
    }

    /// PTR for ClusterIPs and endpoint addresses; every other reverse name goes to the host's resolvers
    /// (CoreDNS's default `fallthrough in-addr.arpa`).
    func reverseLookup(_ n: String, asked: String, type: DNSType) -> ClusterDNSResolution {
        let octets = n.dropLast(".in-addr.arpa".count).split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, let address = IPv4CIDR.parseAddress(octets.reversed().joined(separator: ".")),
              let target = reverse[address] else { return .forward }
        return filter([DNSResourceRecord(name: asked, type: .ptr, ttl: ttl, data: .ptr(target))], type: type)
    }
}
