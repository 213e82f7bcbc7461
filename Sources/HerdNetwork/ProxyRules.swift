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

/// What the proxy programs for one service port: its counter, chains, affinity sets and the elements it owns in
/// the table's shared maps and sets. Two of them are equal exactly when the port's objects in the table are.
public struct RenderedServicePort: Sendable, Equatable {
    public struct Chain: Sendable, Equatable {
        public var name: String
        /// The rule statements, in order (without `add rule`).
        public var rules: [String]
    }

    public struct AffinitySet: Sendable, Equatable {
        public var name: String
        public var timeoutSeconds: Int32
    }

    /// The port's chain ID: also its counter's name and the prefix of all its objects' names.
    public var id: String
    public var chains: [Chain]
    public var affinitySets: [AffinitySet]
    /// `service-ips` elements: "ip . proto . port" -> "goto chain".
    public var serviceIPs: [String: String]
    /// `service-nodeports` elements: "proto . port" -> "goto chain".
    public var nodePorts: [String: String]
    /// `no-endpoint-services` elements ("ip . proto . port").
    public var rejectIPs: [String]
    /// `no-endpoint-nodeports` elements ("proto . port").
    public var rejectNodePorts: [String]
}

/// Renders the proxy's nftables table, as pure functions of the desired service ports (and, for a partial
/// sync, of what the previous sync programmed), so they can be tested without nft. Every sync is one
/// `nft -f` transaction, so the data path never sees half a change:
/// - a full sync deletes and recreates the whole table (the first sync, after a failed one, and periodically
///   to repair drift); the named counters are declared again with the values they had, so they keep counting;
/// - a partial sync touches only the service ports whose objects changed: it removes their stale map
///   elements, rewrites only their changed chains, adds their new objects, deletes their old ones, and leaves
///   every other port (its chains, counter and affinity sets) as it is.
public enum ProxyRules {
    /// The packet mark that asks postrouting to masquerade (hairpin traffic, node-port traffic).
    static let masqueradeMark = "0x4000"

    /// A named counter's value, carried into a full sync's new table.
    public struct CounterValue: Sendable, Equatable {
        public var packets: UInt64
        public var bytes: UInt64
        public init(packets: UInt64, bytes: UInt64) {
            self.packets = packets
            self.bytes = bytes
        }
    }

    /// The objects of every service port, by chain ID. A frontend (address, protocol, port) claimed by two
    /// ports goes to the first by chain ID (a duplicate map key would make nft refuse the transaction), so a
    /// port's objects can depend on others: a partial sync compares these, not the ports.
    public static func renderPorts(_ services: [ProxiedServicePort]) -> [String: RenderedServicePort] {
        var out: [String: RenderedServicePort] = [:]
        var takenFrontends = Set<String>()
        for s in services.sorted(by: { $0.chainID < $1.chainID }) where out[s.chainID] == nil {
            out[s.chainID] = renderPort(s, takenFrontends: &takenFrontends)
        }
        return out
    }

    /// An endpoint's chain: named by the endpoint, so a change of another endpoint leaves it alone.
    static func endpointChain(_ id: String, _ e: ProxiedServicePort.Endpoint) -> String {
        "\(id)-ep-" + hashHex("\(e.ip):\(e.port)").prefix(12)
    }

    /// An endpoint's ClientIP affinity set (the timeout is part of the name: a set's timeout cannot change).
    static func affinitySet(_ id: String, _ e: ProxiedServicePort.Endpoint, timeout: Int32) -> String {
        "\(id)-aff-" + hashHex("\(e.ip):\(e.port)/\(timeout)").prefix(12)
    }

    static func renderPort(_ s: ProxiedServicePort, takenFrontends: inout Set<String>) -> RenderedServicePort {
        let id = s.chainID
        var r = RenderedServicePort(id: id, chains: [], affinitySets: [], serviceIPs: [:], nodePorts: [:], rejectIPs: [],
                                    rejectNodePorts: [])
        let clusterIPs = [s.clusterIP].compactMap { $0 }.filter { IPv4CIDR.parseAddress($0) != nil }
        let externals = s.externalIPs.filter { IPv4CIDR.parseAddress($0) != nil && !clusterIPs.contains($0) }
        if s.endpoints.isEmpty {
            // upstream rejects connections to a service without endpoints instead of letting them hang
            for ip in clusterIPs + externals where takenFrontends.insert("\(ip) . \(s.proto) . \(s.port)").inserted {
                r.rejectIPs.append("\(ip) . \(s.proto) . \(s.port)")
            }
            if let np = s.nodePort, takenFrontends.insert("node \(s.proto) . \(np)").inserted {
                r.rejectNodePorts.append("\(s.proto) . \(np)")
            }
            return r
        }
        let epChains = s.endpoints.map { endpointChain(id, $0) }
        for ip in clusterIPs where takenFrontends.insert("\(ip) . \(s.proto) . \(s.port)").inserted {
            r.serviceIPs["\(ip) . \(s.proto) . \(s.port)"] = "goto \(id)"
        }
        let local = s.externalTrafficLocal ? s.endpoints.indices.filter { s.endpoints[$0].isLocal } : Array(s.endpoints.indices)
        if s.externalTrafficLocal && !local.isEmpty {
            // Local: the client address is kept (no masquerade) and only this node's endpoints serve
            r.chains.append(.init(name: "\(id)-local", rules: [
                "counter name \"\(id)\"",
                "numgen random mod \(local.count) vmap { "
                    + local.enumerated().map { "\($0.offset) : goto \(epChains[$0.element])" }.joined(separator: ", ") + " }",
            ]))
        }
        if !externals.isEmpty {
            // external IPs and load-balancer addresses (the nodes' own): traffic from outside is masqueraded
            // so replies come back through this node, unless Local keeps it on this node's endpoints
            for ip in externals {
                // two load balancers on one address and port: the first keeps it
                guard takenFrontends.insert("\(ip) . \(s.proto) . \(s.port)").inserted else { continue }
                r.serviceIPs["\(ip) . \(s.proto) . \(s.port)"] = "goto \(id)-ext"
            }
            var ext = ["fib saddr type local goto \(id)"]
            if !s.externalTrafficLocal {
                ext += ["meta mark set meta mark | \(masqueradeMark)", "goto \(id)"]
            } else if local.isEmpty {
                ext.append("drop")  // upstream drops external traffic that no local endpoint can take
            } else {
                ext.append("goto \(id)-local")
            }
            r.chains.append(.init(name: "\(id)-ext", rules: ext))
        }
        // service chain: count the new connection, keep affinity, pick an endpoint
        var body = ["counter name \"\(id)\""]
        if let t = s.affinitySeconds {
            for (i, e) in s.endpoints.enumerated() {
                body.append("ip saddr @\(affinitySet(id, e, timeout: t)) goto \(epChains[i])")
            }
        }
        body.append("numgen random mod \(s.endpoints.count) vmap { "
                    + epChains.enumerated().map { "\($0.offset) : goto \($0.element)" }.joined(separator: ", ") + " }")
        r.chains.append(.init(name: id, rules: body))
        for (i, e) in s.endpoints.enumerated() {
            var ep = ["ip saddr \(e.ip) meta mark set meta mark | \(masqueradeMark)"]
            if let t = s.affinitySeconds {
                let set = affinitySet(id, e, timeout: t)
                r.affinitySets.append(.init(name: set, timeoutSeconds: t))
                ep.append("update @\(set) { ip saddr }")
            }
            ep.append("meta l4proto \(s.proto) dnat to \(e.ip):\(e.port)")
            r.chains.append(.init(name: epChains[i], rules: ep))
        }
        // node ports are unique per protocol in the API; a duplicate here would make nft refuse the table
        if let np = s.nodePort, takenFrontends.insert("node \(s.proto) . \(np)").inserted {
            if local.isEmpty {
                r.rejectNodePorts.append("\(s.proto) . \(np)")
            } else if s.externalTrafficLocal {
                r.nodePorts["\(s.proto) . \(np)"] = "goto \(id)-local"
            } else {
                r.nodePorts["\(s.proto) . \(np)"] = "goto \(id)-np"
                r.chains.append(.init(name: "\(id)-np", rules: ["meta mark set meta mark | \(masqueradeMark)", "goto \(id)"]))
            }
        }
        return r
    }

    /// The whole table, declared; each port's counter starts from `counters[id]` (zero when absent).
    public static func render(table: String, ports: [String: RenderedServicePort], counters: [String: CounterValue] = [:]) -> String {
        var out: [String] = []
        let sorted = ports.values.sorted { $0.id < $1.id }
        func elements(_ items: [String]) -> String? {
            items.isEmpty ? nil : "        elements = { " + items.joined(separator: ", ") + " }"
        }
        out.append("table ip \(table) {")
        for p in sorted {
            let c = counters[p.id] ?? CounterValue(packets: 0, bytes: 0)
            out.append("    counter \(p.id) { packets \(c.packets) bytes \(c.bytes) }")
            for set in p.affinitySets { out.append("    set \(set.name) { \(affinitySetSpec(set)) }") }
        }
        out.append("    map service-ips {")
        out.append("        type ipv4_addr . inet_proto . inet_service : verdict")
        out += [elements(sorted.flatMap { p in p.serviceIPs.sorted { $0.key < $1.key }.map { "\($0.key) : \($0.value)" } })].compactMap { $0 }
        out.append("    }")
        out.append("    map service-nodeports {")
        out.append("        type inet_proto . inet_service : verdict")
        out += [elements(sorted.flatMap { p in p.nodePorts.sorted { $0.key < $1.key }.map { "\($0.key) : \($0.value)" } })].compactMap { $0 }
        out.append("    }")
        out.append("    set no-endpoint-services {")
        out.append("        type ipv4_addr . inet_proto . inet_service")
        out += [elements(sorted.flatMap(\.rejectIPs))].compactMap { $0 }
        out.append("    }")
        out.append("    set no-endpoint-nodeports {")
        out.append("        type inet_proto . inet_service")
        out += [elements(sorted.flatMap(\.rejectNodePorts))].compactMap { $0 }
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
        for p in sorted {
            for c in p.chains { out.append(chain(c.name, c.rules.map { "        " + $0 })) }
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    /// The transaction of a full sync: replaces the table (creating it first makes the delete valid on the first
    /// sync), declaring the counters again with their values.
    public static func fullTransaction(table: String, ports: [String: RenderedServicePort],
                                       counters: [String: CounterValue] = [:]) -> String {
        "add table ip \(table)\ndelete table ip \(table)\n" + render(table: table, ports: ports, counters: counters)
    }

    /// A full sync's transaction for these service ports, with counters from zero.
    public static func replaceTransaction(table: String, services: [ProxiedServicePort]) -> String {
        fullTransaction(table: table, ports: renderPorts(services))
    }

    /// The transaction of a partial sync from what the previous sync programmed (`previous`, in the table now)
    /// to `desired`; empty when nothing changed. Only the objects of ports that changed are touched, in an order
    /// that never references a missing object: stale map elements go first (they may point at chains about to
    /// go), then changed and new chains are created or flushed, old chains that are going are flushed (their
    /// rules may point at each other), new counters and sets are added, the changed chains refilled, the
    /// objects no longer wanted deleted, and the new map elements added last (their chains exist by then).
    /// The counter of a port that stays is never touched, so it keeps counting.
    public static func partialTransaction(table: String, previous: [String: RenderedServicePort],
                                          desired: [String: RenderedServicePort]) -> String {
        var deleteElements: [String] = [], prepareChains: [String] = [], addObjects: [String] = [], fill: [String] = []
        var deleteObjects: [String] = [], addElements: [String] = []
        let t = "ip \(table)"
        let ids = Set(previous.keys).union(desired.keys).sorted()
        for id in ids {
            let old = previous[id], new = desired[id]
            guard old != new else { continue }
            // elements: a map key whose verdict changed is deleted and added again
            func diffMap(_ name: String, _ o: [String: String]?, _ n: [String: String]?) {
                for (k, v) in (o ?? [:]).sorted(by: { $0.key < $1.key }) where n?[k] != v {
                    deleteElements.append("delete element \(t) \(name) { \(k) }")
                }
                for (k, v) in (n ?? [:]).sorted(by: { $0.key < $1.key }) where o?[k] != v {
                    addElements.append("add element \(t) \(name) { \(k) : \(v) }")
                }
            }
            func diffSet(_ name: String, _ o: [String]?, _ n: [String]?) {
                for k in o ?? [] where !(n ?? []).contains(k) { deleteElements.append("delete element \(t) \(name) { \(k) }") }
                for k in n ?? [] where !(o ?? []).contains(k) { addElements.append("add element \(t) \(name) { \(k) }") }
            }
            diffMap("service-ips", old?.serviceIPs, new?.serviceIPs)
            diffMap("service-nodeports", old?.nodePorts, new?.nodePorts)
            diffSet("no-endpoint-services", old?.rejectIPs, new?.rejectIPs)
            diffSet("no-endpoint-nodeports", old?.rejectNodePorts, new?.rejectNodePorts)
            // chains: one whose rules are unchanged refers only to objects that stay, so it is left alone
            let oldChains = Dictionary((old?.chains ?? []).map { ($0.name, $0.rules) }, uniquingKeysWith: { a, _ in a })
            let newNames = Set((new?.chains ?? []).map(\.name))
            for c in new?.chains ?? [] where oldChains[c.name] != c.rules {
                if oldChains[c.name] == nil {
                    prepareChains.append("add chain \(t) \(c.name)")
                } else {
                    prepareChains.append("flush chain \(t) \(c.name)")
                }
                for rule in c.rules { fill.append("add rule \(t) \(c.name) \(rule)") }
            }
            for c in old?.chains ?? [] where !newNames.contains(c.name) {
                prepareChains.append("flush chain \(t) \(c.name)")
                deleteObjects.append("delete chain \(t) \(c.name)")
            }
            if old == nil { addObjects.append("add counter \(t) \(id)") }
            let oldSets = Set((old?.affinitySets ?? []).map(\.name)), newSets = Set((new?.affinitySets ?? []).map(\.name))
            for set in new?.affinitySets ?? [] where !oldSets.contains(set.name) {
                addObjects.append("add set \(t) \(set.name) { \(affinitySetSpec(set)) }")
            }
            for set in old?.affinitySets ?? [] where !newSets.contains(set.name) {
                deleteObjects.append("delete set \(t) \(set.name)")
            }
            if new == nil { deleteObjects.append("delete counter \(t) \(id)") }
        }
        let all = deleteElements + prepareChains + addObjects + fill + deleteObjects + addElements
        return all.isEmpty ? "" : all.joined(separator: "\n") + "\n"
    }

    static func affinitySetSpec(_ set: RenderedServicePort.AffinitySet) -> String {
        "type ipv4_addr; flags dynamic,timeout; timeout \(set.timeoutSeconds)s;"
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
