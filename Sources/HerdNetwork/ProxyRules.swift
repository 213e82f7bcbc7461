import HerdAPI

/// One port of one Service as the proxy programs it: where clients send (ClusterIP, node port, external
/// addresses) and the ready endpoints the traffic is spread over.
public struct ProxiedServicePort: Sendable, Hashable {
    public struct Endpoint: Sendable, Hashable {
        public var ip: String
        public var port: Int32
        /// On this node (externalTrafficPolicy Local keeps node-port traffic on such endpoints).
        public var isLocal: Bool
        public init(ip: String, port: Int32, isLocal: Bool) {
            self.ip = ip
            self.port = port
            self.isLocal = isLocal
        }
    }

    public var namespace: String
    public var name: String
    public var portName: String
    /// "tcp", "udp" or "sctp".
    public var proto: String
    public var clusterIP: String?
    public var port: Int32
    public var nodePort: Int32?
    /// `spec.externalIPs` and `status.loadBalancer.ingress` addresses, served on `port` like the ClusterIP.
    public var externalIPs: [String]
    /// ClientIP affinity: seconds a client sticks to its endpoint (nil: none).
    public var affinitySeconds: Int32?
    public var externalTrafficLocal: Bool
    /// Ready endpoints only, sorted.
    public var endpoints: [Endpoint]

    public init(namespace: String, name: String, portName: String, proto: String, clusterIP: String?, port: Int32,
                nodePort: Int32? = nil, externalIPs: [String] = [], affinitySeconds: Int32? = nil,
                externalTrafficLocal: Bool = false, endpoints: [Endpoint]) {
        self.namespace = namespace
        self.name = name
        self.portName = portName
        self.proto = proto
        self.clusterIP = clusterIP
        self.port = port
        self.nodePort = nodePort
        self.externalIPs = externalIPs
        self.affinitySeconds = affinitySeconds
        self.externalTrafficLocal = externalTrafficLocal
        self.endpoints = endpoints
    }

    /// A name for its chains, counter and sets: short, stable, and valid in nftables.
    public var chainID: String {
        "svc-" + ProxyRules.hashHex("\(namespace)/\(name)/\(portName)/\(proto)")
    }

    /// The Service ports to program from a Service and its EndpointSlices (only ready endpoints; ports
    /// matched by name, as upstream's proxies do).
    public static func from(_ service: Service, slices: [EndpointSlice], nodeName: String) -> [ProxiedServicePort] {
        guard let spec = service.spec, spec.type != "ExternalName" else { return [] }
        let clusterIP = spec.clusterIP.flatMap { $0.isEmpty || $0 == "None" ? nil : $0 }
        let ns = service.metadata.namespace ?? "default", name = service.metadata.name ?? ""
        var external = spec.externalIPs ?? []
        for ingress in service.status?.loadBalancer?.ingress ?? [] {
            if let ip = ingress.ip, !external.contains(ip) { external.append(ip) }
        }
        guard clusterIP != nil || !external.isEmpty || (spec.ports ?? []).contains(where: { ($0.nodePort ?? 0) != 0 }) else {
            return []  // headless: DNS answers with the pods themselves
        }
        let affinity = spec.sessionAffinity == "ClientIP" ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : nil
        return (spec.ports ?? []).compactMap { p -> ProxiedServicePort? in
            guard let port = p.port else { return nil }
            let proto = (p.protocol ?? "TCP").lowercased()
            let portName = p.name ?? ""
            var endpoints = Set<Endpoint>()
            for slice in slices where slice.addressType == nil || slice.addressType == "IPv4" {
                guard let sp = (slice.ports ?? []).first(where: { ($0.name ?? "") == portName && ($0.protocol ?? "TCP").lowercased() == proto }),
                      let target = sp.port else { continue }
                for e in slice.endpoints ?? [] where e.conditions?.ready ?? true {
                    for ip in e.addresses ?? [] where IPv4CIDR.parseAddress(ip) != nil {
                        endpoints.insert(Endpoint(ip: ip, port: target, isLocal: e.nodeName == nodeName))
                    }
                }
            }
            return ProxiedServicePort(namespace: ns, name: name, portName: portName, proto: proto, clusterIP: clusterIP,
                                      port: port, nodePort: p.nodePort.flatMap { $0 == 0 ? nil : $0 },
                                      externalIPs: external, affinitySeconds: affinity,
                                      externalTrafficLocal: spec.externalTrafficPolicy == "Local",
                                      endpoints: endpoints.sorted { ($0.ip, $0.port) < ($1.ip, $1.port) })
        }
    }
}

/// Renders the proxy's whole nftables table. It is applied in one `nft -f` transaction (delete the old table,
/// add the new), so the data path never sees half a change.
public enum ProxyRules {
    /// The packet mark that asks postrouting to masquerade (hairpin traffic, node-port traffic).
    static let masqueradeMark = "0x4000"

    public static func render(table: String, services: [ProxiedServicePort]) -> String {
        var out: [String] = []
        var clusterElements: [String] = []
        var nodePortElements: [String] = []
        var rejectElements: [String] = []
        var rejectNodePorts: [String] = []
        var chains: [String] = []
        var objects: [String] = []
        var takenFrontends = Set<String>()
        for s in services.sorted(by: { $0.chainID < $1.chainID }) {
            let id = s.chainID
            let clusterIPs = [s.clusterIP].compactMap { $0 }.filter { IPv4CIDR.parseAddress($0) != nil }
            let externals = s.externalIPs.filter { IPv4CIDR.parseAddress($0) != nil && !clusterIPs.contains($0) }
            objects.append("    counter \(id) {}")
            if s.endpoints.isEmpty {
                // upstream rejects connections to a service without endpoints instead of letting them hang
                for ip in clusterIPs + externals where takenFrontends.insert("\(ip) . \(s.proto) . \(s.port)").inserted {
                    rejectElements.append("\(ip) . \(s.proto) . \(s.port)")
                }
                if let np = s.nodePort { rejectNodePorts.append("\(s.proto) . \(np)") }
                continue
            }
            for ip in clusterIPs where takenFrontends.insert("\(ip) . \(s.proto) . \(s.port)").inserted {
                clusterElements.append("\(ip) . \(s.proto) . \(s.port) : goto \(id)")
            }
            let local = s.externalTrafficLocal ? s.endpoints.indices.filter { s.endpoints[$0].isLocal } : Array(s.endpoints.indices)
            if s.externalTrafficLocal && !local.isEmpty {
                // Local: the client address is kept (no masquerade) and only this node's endpoints serve
                chains.append(chain("\(id)-local", [
                    "        counter name \"\(id)\"",
                    "        numgen random mod \(local.count) vmap { "
                        + local.enumerated().map { "\($0.offset) : goto \(id)-ep\($0.element)" }.joined(separator: ", ") + " }",
                ]))
            }
            if !externals.isEmpty {
                // external IPs and load-balancer addresses (the nodes' own): traffic from outside is masqueraded
                // so replies come back through this node, unless Local keeps it on this node's endpoints
                for ip in externals {
                    // two load balancers on one address and port: the first keeps it (a duplicate map key
                    // would make nft refuse the whole table)
                    guard takenFrontends.insert("\(ip) . \(s.proto) . \(s.port)").inserted else { continue }
                    clusterElements.append("\(ip) . \(s.proto) . \(s.port) : goto \(id)-ext")
                }
                var ext = ["        fib saddr type local goto \(id)"]
                if !s.externalTrafficLocal {
                    ext += ["        meta mark set meta mark | \(masqueradeMark)", "        goto \(id)"]
                } else if local.isEmpty {
                    ext.append("        drop")  // upstream drops external traffic that no local endpoint can take
                } else {
                    ext.append("        goto \(id)-local")
                }
                chains.append(chain("\(id)-ext", ext))
            }
            // service chain: count the new connection, keep affinity, pick an endpoint
            var body = ["        counter name \"\(id)\""]
            if s.affinitySeconds != nil {
                for i in s.endpoints.indices {
                    body.append("        ip saddr @\(id)-aff\(i) goto \(id)-ep\(i)")
                }
            }
            body.append("        numgen random mod \(s.endpoints.count) vmap { "
                        + s.endpoints.indices.map { "\($0) : goto \(id)-ep\($0)" }.joined(separator: ", ") + " }")
            chains.append(chain(id, body))
            for (i, e) in s.endpoints.enumerated() {
                var ep = ["        ip saddr \(e.ip) meta mark set meta mark | \(masqueradeMark)"]
                if let t = s.affinitySeconds {
                    objects.append("    set \(id)-aff\(i) { type ipv4_addr; flags dynamic,timeout; timeout \(t)s; }")
                    ep.append("        update @\(id)-aff\(i) { ip saddr }")
                }
                ep.append("        meta l4proto \(s.proto) dnat to \(e.ip):\(e.port)")
                chains.append(chain("\(id)-ep\(i)", ep))
            }
            if let np = s.nodePort {
                if local.isEmpty {
                    rejectNodePorts.append("\(s.proto) . \(np)")
                } else if s.externalTrafficLocal {
                    nodePortElements.append("\(s.proto) . \(np) : goto \(id)-local")
                } else {
                    nodePortElements.append("\(s.proto) . \(np) : goto \(id)-np")
                    chains.append(chain("\(id)-np", ["        meta mark set meta mark | \(masqueradeMark)", "        goto \(id)"]))
                }
            }
        }
        out.append("table ip \(table) {")
        out += objects
        out.append("    map service-ips {")
        out.append("        type ipv4_addr . inet_proto . inet_service : verdict")
        if !clusterElements.isEmpty { out.append("        elements = { " + clusterElements.joined(separator: ", ") + " }") }
        out.append("    }")
        out.append("    map service-nodeports {")
        out.append("        type inet_proto . inet_service : verdict")
        if !nodePortElements.isEmpty { out.append("        elements = { " + nodePortElements.joined(separator: ", ") + " }") }
        out.append("    }")
        out.append("    set no-endpoint-services {")
        out.append("        type ipv4_addr . inet_proto . inet_service")
        if !rejectElements.isEmpty { out.append("        elements = { " + rejectElements.joined(separator: ", ") + " }") }
        out.append("    }")
        out.append("    set no-endpoint-nodeports {")
        out.append("        type inet_proto . inet_service")
        if !rejectNodePorts.isEmpty { out.append("        elements = { " + rejectNodePorts.joined(separator: ", ") + " }") }
        out.append("    }")
        out.append(chain("services", [
            "        ip daddr . meta l4proto . th dport vmap @service-ips",
            "        fib daddr type local meta l4proto . th dport vmap @service-nodeports",
        ]))
        out.append(chain("prerouting", ["        type nat hook prerouting priority dstnat; policy accept;", "        jump services"]))
        out.append(chain("output", ["        type nat hook output priority -100; policy accept;", "        jump services"]))
        out.append(chain("postrouting", [
            "        type nat hook postrouting priority srcnat; policy accept;",
            "        meta mark & \(masqueradeMark) == \(masqueradeMark) masquerade",
        ]))
        let reject = [
            "        ip daddr . meta l4proto . th dport @no-endpoint-services reject",
            "        fib daddr type local meta l4proto . th dport @no-endpoint-nodeports reject",
        ]
        out.append(chain("filter-output", ["        type filter hook output priority -110; policy accept;"] + reject))
        out.append(chain("filter-forward", ["        type filter hook forward priority -110; policy accept;"] + reject))
        out.append(chain("filter-input", ["        type filter hook input priority -110; policy accept;"] + reject))
        out += chains
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    /// The transaction that replaces the table (creating it first makes the delete valid on the first sync).
    public static func replaceTransaction(table: String, services: [ProxiedServicePort]) -> String {
        "add table ip \(table)\ndelete table ip \(table)\n" + render(table: table, services: services)
    }

    private static func chain(_ name: String, _ body: [String]) -> String {
        (["    chain \(name) {"] + body + ["    }"]).joined(separator: "\n")
    }

    /// 64-bit FNV-1a: names of chains, tables, bridges and veths that are stable across runs (unlike Hasher).
    public static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100000001b3
        }
        return h
    }

    /// FNV-1a as 16 hex digits.
    public static func hashHex(_ s: String) -> String {
        let hex = String(fnv1a(s), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
