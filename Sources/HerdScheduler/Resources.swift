import HerdAPI

/// Amounts of the resources the scheduler accounts for, in the units upstream compares them in:
/// cpu in millicores, everything else in whole units (bytes, pods, devices).
public struct ResourceAmounts: Sendable, Hashable {
    public var milliCPU: Int64 = 0
    public var memory: Int64 = 0
    public var ephemeralStorage: Int64 = 0
    /// Extended resources, hugepages and anything else by name.
    public var scalar: [String: Int64] = [:]

    public init(milliCPU: Int64 = 0, memory: Int64 = 0, ephemeralStorage: Int64 = 0, scalar: [String: Int64] = [:]) {
        self.milliCPU = milliCPU
        self.memory = memory
        self.ephemeralStorage = ephemeralStorage
        self.scalar = scalar
    }

    /// From a resource list (requests or allocatable); `pods` is not an amount a pod requests and is skipped.
    public init(_ list: [String: Quantity]?) {
        guard let list else { return }
        for (name, q) in list {
            switch name {
            case "cpu": milliCPU = q.milliValue
            case "memory": memory = q.value
            case "ephemeral-storage": ephemeralStorage = q.value
            case "pods": continue
            default: scalar[name] = q.value
            }
        }
    }

    public var isZero: Bool {
        milliCPU == 0 && memory == 0 && ephemeralStorage == 0 && scalar.values.allSatisfy { $0 == 0 }
    }

    public static func + (a: ResourceAmounts, b: ResourceAmounts) -> ResourceAmounts {
        var r = a
        r += b
        return r
    }

    public static func += (a: inout ResourceAmounts, b: ResourceAmounts) {
        a.milliCPU += b.milliCPU
        a.memory += b.memory
        a.ephemeralStorage += b.ephemeralStorage
        for (k, v) in b.scalar { a.scalar[k, default: 0] += v }
    }

    public static func -= (a: inout ResourceAmounts, b: ResourceAmounts) {
        a.milliCPU -= b.milliCPU
        a.memory -= b.memory
        a.ephemeralStorage -= b.ephemeralStorage
        for (k, v) in b.scalar {
            let n = a.scalar[k, default: 0] - v
            a.scalar[k] = n == 0 ? nil : n
        }
    }

    /// Component-wise maximum.
    public func max(_ o: ResourceAmounts) -> ResourceAmounts {
        var r = ResourceAmounts(milliCPU: Swift.max(milliCPU, o.milliCPU), memory: Swift.max(memory, o.memory),
                                ephemeralStorage: Swift.max(ephemeralStorage, o.ephemeralStorage), scalar: scalar)
        for (k, v) in o.scalar { r.scalar[k] = Swift.max(r.scalar[k] ?? 0, v) }
        return r
    }
}

/// Upstream's scoring defaults for containers without requests (schedutil.DefaultMilliCPURequest and
/// DefaultMemoryRequest): without them, best-effort pods would all pile onto one node.
public enum NonZeroDefaults {
    public static let milliCPU: Int64 = 100
    public static let memory: Int64 = 200 * 1024 * 1024
}

extension ResourceAmounts {
    /// What a pod asks for, as upstream's resource helpers compute it: the larger of the sum of the app
    /// containers (plus restartable init containers, which keep running beside them) and the peak of the init
    /// sequence, plus the pod overhead. `nonZero` applies the scoring defaults per container.
    public static func podRequests(_ spec: PodSpec?, nonZero: Bool = false) -> ResourceAmounts {
        guard let spec else { return ResourceAmounts() }
        func request(_ c: Container) -> ResourceAmounts {
            var r = ResourceAmounts(c.resources?.requests)
            if nonZero {
                if c.resources?.requests?["cpu"] == nil { r.milliCPU = NonZeroDefaults.milliCPU }
                if c.resources?.requests?["memory"] == nil { r.memory = NonZeroDefaults.memory }
            }
            return r
        }
        var sum = ResourceAmounts()
        for c in spec.containers ?? [] { sum += request(c) }
        var sidecars = ResourceAmounts()
        var initPeak = ResourceAmounts()
        for c in spec.initContainers ?? [] {
            let r = request(c)
            if c.restartPolicy == "Always" {
                sidecars += r
                initPeak = initPeak.max(sidecars)
            } else {
                initPeak = initPeak.max(r + sidecars)
            }
        }
        var total = (sum + sidecars).max(initPeak)
        if let overhead = spec.overhead { total += ResourceAmounts(overhead) }
        return total
    }
}
