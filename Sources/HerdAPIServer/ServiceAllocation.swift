import HerdAPI
import Synchronization

/// ClusterIPs from the service CIDR and node ports from the node port range, as upstream's service registry
/// allocates them: a Service gets them when it is created or changes to a type that needs them, asks for
/// specific ones only if they are in range and free, and gives them back when it is deleted or stops
/// needing them. The state is rebuilt from the stored Services when the server starts.
final class ServiceAllocator: Sendable {
    let serviceCIDR: IPv4CIDR
    let nodePortRange: ClosedRange<Int32>
    private let state = Mutex(State())

    struct State {
        var ips = Set<UInt32>()
        var ports = Set<Int32>()
        /// Where the next search for a free address or port starts (so released values are not reused at once).
        var ipCursor: UInt64 = 0
        var portCursor: Int32 = 0
    }

    /// What one write took and what it gave up; `freed` is released only once the write is stored.
    struct Reservation {
        var takenIPs: [UInt32] = []
        var takenPorts: [Int32] = []
        var freedIPs: [UInt32] = []
        var freedPorts: [Int32] = []
        var isEmpty: Bool { takenIPs.isEmpty && takenPorts.isEmpty && freedIPs.isEmpty && freedPorts.isEmpty }
    }

    init(serviceCIDR: IPv4CIDR, nodePortRange: ClosedRange<Int32> = 30000...32767) {
        self.serviceCIDR = serviceCIDR
        self.nodePortRange = nodePortRange
    }

    /// The address of the `kubernetes` service: the first of the range, as upstream.
    var apiServerServiceIP: String? { serviceCIDR.address(at: 1).map(IPv4CIDR.format) }

    /// Records what a stored Service holds.
    func markInUse(_ object: JSONValue) {
        guard let svc = try? JSONValueDecoder.decodeValue(Service.self, from: object) else { return }
        let (ips, ports) = held(svc)
        state.withLock { s in
            s.ips.formUnion(ips)
            s.ports.formUnion(ports)
        }
    }

    /// Gives `object` (a Service about to be written) the addresses and ports its type needs, keeping what
    /// `old` already held. Throws 422 Invalid for a requested value out of range or taken.
    func allocate(_ object: inout JSONValue, old: JSONValue?) throws -> Reservation {
        var svc = try JSONValueDecoder.decodeValue(Service.self, from: object)
        let oldService = old.flatMap { try? JSONValueDecoder.decodeValue(Service.self, from: $0) }
        let (oldIPs, oldPorts) = oldService.map(held) ?? ([], [])
        var spec = svc.spec ?? ServiceSpec()
        let type = spec.type ?? "ClusterIP"
        var reservation = Reservation()
        var errors: [FieldError] = []
        let result: Void? = state.withLock { s -> Void? in
            // addresses
            if type != "ExternalName" && spec.clusterIP != "None" {
                if let requested = spec.clusterIP, !requested.isEmpty {
                    if let ip = IPv4CIDR.parseAddress(requested), !oldIPs.contains(ip) {
                        if !self.serviceCIDR.contains(ip) || !self.usable(ip) {
                            errors.append(.invalid("spec.clusterIPs", requested,
                                                   "failed to allocate IP \(requested): the provided IP (\(requested)) is not in the valid range. The range of valid IPs is \(self.serviceCIDR)"))
                        } else if s.ips.contains(ip) {
                            errors.append(.invalid("spec.clusterIPs", requested,
                                                   "failed to allocate IP \(requested): provided IP is already allocated"))
                        } else {
                            s.ips.insert(ip)
                            reservation.takenIPs.append(ip)
                        }
                    }
                } else if let ip = self.nextIP(&s) {
                    s.ips.insert(ip)
                    reservation.takenIPs.append(ip)
                    spec.clusterIP = IPv4CIDR.format(ip)
                    spec.clusterIPs = [IPv4CIDR.format(ip)]
                    if spec.ipFamilies == nil { spec.ipFamilies = ["IPv4"] }
                    if spec.ipFamilyPolicy == nil { spec.ipFamilyPolicy = "SingleStack" }
                } else {
                    errors.append(FieldError(.internalError, "spec.clusterIPs", nil, "failed to allocate a serviceIP: range is full"))
                }
            }
            // node ports (one number may serve two protocols of one service)
            if type == "NodePort" || type == "LoadBalancer", var ports = spec.ports {
                var mine = Set<Int32>()
                for i in ports.indices {
                    let path = "spec.ports[\(i)].nodePort"
                    if let requested = ports[i].nodePort, requested != 0 {
                        if mine.contains(requested) || oldPorts.contains(requested) {
                            mine.insert(requested)
                            continue
                        }
                        if !self.nodePortRange.contains(requested) {
                            errors.append(.invalid(path, number: Int64(requested),
                                                   "provided port is not in the valid range. The range of valid ports is \(self.nodePortRange.lowerBound)-\(self.nodePortRange.upperBound)"))
                        } else if s.ports.contains(requested) {
                            errors.append(.invalid(path, number: Int64(requested), "provided port is already allocated"))
                        } else {
                            s.ports.insert(requested)
                            reservation.takenPorts.append(requested)
                            mine.insert(requested)
                        }
                    } else if let port = self.nextPort(&s) {
                        s.ports.insert(port)
                        reservation.takenPorts.append(port)
                        mine.insert(port)
                        ports[i].nodePort = port
                    } else {
                        errors.append(FieldError(.internalError, path, nil, "failed to allocate a nodePort: range is full"))
                    }
                }
                spec.ports = ports
                if type == "LoadBalancer" && spec.externalTrafficPolicy == "Local" && (spec.healthCheckNodePort ?? 0) == 0 {
                    if let port = self.nextPort(&s) {
                        s.ports.insert(port)
                        reservation.takenPorts.append(port)
                        spec.healthCheckNodePort = port
                    }
                }
            }
            if !errors.isEmpty {
                // nothing of a refused write stays taken
                for ip in reservation.takenIPs { s.ips.remove(ip) }
                for p in reservation.takenPorts { s.ports.remove(p) }
                return nil
            }
            return ()
        }
        guard result != nil else {
            throw APIError.invalid(kind: "Service", name: svc.metadata.name ?? "", errors)
        }
        svc.spec = spec
        let (newIPs, newPorts) = held(svc)
        reservation.freedIPs = oldIPs.filter { !newIPs.contains($0) }
        reservation.freedPorts = oldPorts.filter { !newPorts.contains($0) }
        if !reservation.takenIPs.isEmpty || !reservation.takenPorts.isEmpty {
            object = try JSONValueEncoder.encode(svc).withMetadata(of: object)
        }
        return reservation
    }

    /// The write that made `reservation` was stored: what the old version held and the new does not is free.
    func commit(_ reservation: Reservation) {
        guard !reservation.freedIPs.isEmpty || !reservation.freedPorts.isEmpty else { return }
        state.withLock { s in
            for ip in reservation.freedIPs { s.ips.remove(ip) }
            for p in reservation.freedPorts { s.ports.remove(p) }
        }
    }

    /// The write failed or was a dry run: give back what it took.
    func abort(_ reservation: Reservation) {
        guard !reservation.takenIPs.isEmpty || !reservation.takenPorts.isEmpty else { return }
        state.withLock { s in
            for ip in reservation.takenIPs { s.ips.remove(ip) }
            for p in reservation.takenPorts { s.ports.remove(p) }
        }
    }

    /// A deleted Service's addresses and ports are free.
    func release(_ object: JSONValue) {
        guard let svc = try? JSONValueDecoder.decodeValue(Service.self, from: object) else { return }
        let (ips, ports) = held(svc)
        state.withLock { s in
            for ip in ips { s.ips.remove(ip) }
            for p in ports { s.ports.remove(p) }
        }
    }

    private func held(_ svc: Service) -> (ips: Set<UInt32>, ports: Set<Int32>) {
        let spec = svc.spec ?? ServiceSpec()
        var ips = Set<UInt32>()
        for s in (spec.clusterIPs ?? []) + [spec.clusterIP].compactMap({ $0 }) {
            if let ip = IPv4CIDR.parseAddress(s), serviceCIDR.contains(ip) { ips.insert(ip) }
        }
        var ports = Set((spec.ports ?? []).compactMap(\.nodePort).filter { nodePortRange.contains($0) })
        if let h = spec.healthCheckNodePort, nodePortRange.contains(h) { ports.insert(h) }
        return (ips, ports)
    }

    /// Not the network or broadcast address of the range.
    private func usable(_ ip: UInt32) -> Bool {
        ip != serviceCIDR.base && UInt64(ip - serviceCIDR.base) != serviceCIDR.size - 1
    }

    private func nextIP(_ s: inout State) -> UInt32? {
        let size = serviceCIDR.size
        guard size > 2 else { return nil }
        // 1 is the kubernetes service's; ordinary services start after it
        for step in 0..<(size - 2) {
            let offset = 1 + (s.ipCursor + step) % (size - 2)
            guard let ip = serviceCIDR.address(at: offset), !s.ips.contains(ip) else { continue }
            s.ipCursor = (s.ipCursor + step + 1) % (size - 2)
            return ip
        }
        return nil
    }

    private func nextPort(_ s: inout State) -> Int32? {
        let count = nodePortRange.upperBound - nodePortRange.lowerBound + 1
        for step in 0..<count {
            let port = nodePortRange.lowerBound + (s.portCursor + step) % count
            guard !s.ports.contains(port) else { continue }
            s.portCursor = (s.portCursor + step + 1) % count
            return port
        }
        return nil
    }
}

private extension JSONValue {
    /// This value with the metadata of `other` (re-encoding a typed Service must not reorder or drop
    /// metadata that the server set, such as managedFields).
    func withMetadata(of other: JSONValue) -> JSONValue {
        var out = self
        if let m = other["metadata"] { out["metadata"] = m }
        return out
    }
}

extension APIServerCore {
    /// Marks the addresses and ports of every stored Service as taken (before the server answers).
    func loadServiceAllocations() async throws {
        guard let services = handlers.services,
              let kind = registry.lookup(group: "", version: "v1", plural: "services") else { return }
        let path = ResourcePath(kind: kind, namespace: nil, name: nil, subresource: nil, legacyWatch: false)
        let (items, _) = try await handlers.list(path, query: Query(nil))
        for item in items {
            if let object = item.json { services.markInUse(object) }
        }
    }

    /// The `kubernetes` Service in `default` (the first address of the service range, port 443 named https)
    /// and its Endpoints and EndpointSlice pointing at this server's `address`, as upstream's apiserver keeps
    /// them.
    func reconcileKubernetesService(address: String, port: Int) async {
        guard let ip = handlers.services?.apiServerServiceIP else { return }
        let labels: JSONValue = ["component": "apiserver", "provider": "kubernetes"]
        let service: JSONValue = [
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": "kubernetes", "namespace": "default", "labels": labels],
            "spec": ["type": "ClusterIP", "clusterIP": .string(ip), "clusterIPs": [.string(ip)],
                     "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "internalTrafficPolicy": "Cluster",
                     "ports": [["name": "https", "port": 443, "protocol": "TCP", "targetPort": .int(Int64(port))]]],
        ]
        let endpoints: JSONValue = [
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": ["name": "kubernetes", "namespace": "default", "labels": ["endpointslice.kubernetes.io/skip-mirror": "true"]],
            "subsets": [["addresses": [["ip": .string(address)]],
                         "ports": [["name": "https", "port": .int(Int64(port)), "protocol": "TCP"]]]],
        ]
        let slice: JSONValue = [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": ["name": "kubernetes", "namespace": "default",
                         "labels": ["kubernetes.io/service-name": "kubernetes",
                                    "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"]],
            "addressType": "IPv4",
            "endpoints": [["addresses": [.string(address)], "conditions": ["ready": true]]],
            "ports": [["name": "https", "port": .int(Int64(port)), "protocol": "TCP"]],
        ]
        var objects: [(String, String, String, JSONValue, [String])] = [("", "v1", "services", service, ["spec"])]
        // Endpoints may not name a loopback address (upstream validation): a server that listens on
        // loopback only has a Service without endpoints until it listens on an address pods can reach.
        if !(address.hasPrefix("127.") || address == "::1" || address == "localhost") {
            objects.append(("", "v1", "endpoints", endpoints, ["subsets"]))
            objects.append(("discovery.k8s.io", "v1", "endpointslices", slice, ["endpoints", "ports"]))
        }
        for (group, version, plural, body, fields) in objects {
            do {
                try await ensure(group: group, version: version, plural: plural, body: body, fields: fields)
            } catch {
                logger.warning("could not write the kubernetes \(plural): \(error)")
            }
        }
    }

    /// Creates `body`, or makes the stored object's `fields` match it.
    private func ensure(group: String, version: String, plural: String, body: JSONValue, fields: [String]) async throws {
        guard let kind = registry.lookup(group: group, version: version, plural: plural) else { return }
        let path = ResourcePath(kind: kind, namespace: "default", name: "kubernetes", subresource: nil, legacyWatch: false)
        let options = try WriteOptions(query: Query(nil), userAgent: "herd-apiserver")
        if let (current, _) = try await handlers.current(path) {
            let wanted: [String: JSONValue] = Dictionary(uniqueKeysWithValues: fields.map { ($0, body[$0] ?? .null) })
            // the stored service has defaults and more fields: compare what this server decides only
            let differs = plural == "services"
                ? current[path: ["spec", "ports"]]?.arrayValue?.first?["targetPort"] != body[path: ["spec", "ports"]]?.arrayValue?.first?["targetPort"]
                : fields.contains { current[$0] != wanted[$0] }
            guard differs else { return }
            _ = try await handlers.guaranteedUpdate(path, options: options, precondition: nil, warnings: []) { old in
                var new = old
                if plural == "services" {
                    new["spec"] = body["spec"]
                } else {
                    for f in fields { new[f] = body[f] }
                }
                return new
            }
            return
        }
        do {
            _ = try await handlers.create(path, body: body, duplicates: [], options: options)
        } catch let e as APIError where e.code == 409 {
            return
        }
    }
}
