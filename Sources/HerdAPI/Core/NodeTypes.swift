import Foundation

// core/v1 types with upstream JSON names. Every field is optional so unset fields are omitted on encode.

public struct NodeSpec: Codable, Hashable, Sendable {
    public var podCIDR: String?
    public var podCIDRs: [String]?
    public var providerID: String?
    public var unschedulable: Bool?
    public var taints: [Taint]?
    public var externalID: String?

    public init(podCIDR: String? = nil, podCIDRs: [String]? = nil, providerID: String? = nil, unschedulable: Bool? = nil, taints: [Taint]? = nil, externalID: String? = nil) {
        self.podCIDR = podCIDR
        self.podCIDRs = podCIDRs
        self.providerID = providerID
        self.unschedulable = unschedulable
        self.taints = taints
        self.externalID = externalID
    }
}

/// Repels pods that do not tolerate it.
public struct Taint: Codable, Hashable, Sendable {
    public var key: String?
    public var value: String?
    public var effect: String?
    public var timeAdded: Time?

    public init(key: String? = nil, value: String? = nil, effect: String? = nil, timeAdded: Time? = nil) {
        self.key = key
        self.value = value
        self.effect = effect
        self.timeAdded = timeAdded
    }
}

public struct NodeStatus: Codable, Hashable, Sendable {
    public var capacity: [String:Quantity]?
    public var allocatable: [String:Quantity]?
    public var phase: String?
    public var conditions: [NodeCondition]?
    public var addresses: [NodeAddress]?
    public var daemonEndpoints: NodeDaemonEndpoints?
    public var nodeInfo: NodeSystemInfo?
    public var images: [ContainerImage]?
    public var volumesInUse: [String]?
    public var volumesAttached: [AttachedVolume]?

    public init(capacity: [String:Quantity]? = nil, allocatable: [String:Quantity]? = nil, phase: String? = nil, conditions: [NodeCondition]? = nil, addresses: [NodeAddress]? = nil, daemonEndpoints: NodeDaemonEndpoints? = nil, nodeInfo: NodeSystemInfo? = nil, images: [ContainerImage]? = nil, volumesInUse: [String]? = nil, volumesAttached: [AttachedVolume]? = nil) {
        self.capacity = capacity
        self.allocatable = allocatable
        self.phase = phase
        self.conditions = conditions
        self.addresses = addresses
        self.daemonEndpoints = daemonEndpoints
        self.nodeInfo = nodeInfo
        self.images = images
        self.volumesInUse = volumesInUse
        self.volumesAttached = volumesAttached
    }
}

public struct NodeCondition: Codable, Hashable, Sendable {
    public var type: String?
    public var status: String?
    public var lastHeartbeatTime: Time?
    public var lastTransitionTime: Time?
    public var reason: String?
    public var message: String?

    public init(type: String? = nil, status: String? = nil, lastHeartbeatTime: Time? = nil, lastTransitionTime: Time? = nil, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.lastHeartbeatTime = lastHeartbeatTime
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}

public struct NodeAddress: Codable, Hashable, Sendable {
    public var type: String?
    public var address: String?

    public init(type: String? = nil, address: String? = nil) {
        self.type = type
        self.address = address
    }
}

public struct NodeDaemonEndpoints: Codable, Hashable, Sendable {
    public var kubeletEndpoint: DaemonEndpoint?

    public init(kubeletEndpoint: DaemonEndpoint? = nil) {
        self.kubeletEndpoint = kubeletEndpoint
    }
}

/// The kubelet's port; upstream spells the JSON key "Port".
public struct DaemonEndpoint: Codable, Hashable, Sendable {
    public var port: Int32?

    enum CodingKeys: String, CodingKey {
        case port = "Port"
    }

    public init(port: Int32? = nil) {
        self.port = port
    }
}

public struct NodeSystemInfo: Codable, Hashable, Sendable {
    public var machineID: String?
    public var systemUUID: String?
    public var bootID: String?
    public var kernelVersion: String?
    public var osImage: String?
    public var containerRuntimeVersion: String?
    public var kubeletVersion: String?
    public var kubeProxyVersion: String?
    public var operatingSystem: String?
    public var architecture: String?

    public init(machineID: String? = nil, systemUUID: String? = nil, bootID: String? = nil, kernelVersion: String? = nil, osImage: String? = nil, containerRuntimeVersion: String? = nil, kubeletVersion: String? = nil, kubeProxyVersion: String? = nil, operatingSystem: String? = nil, architecture: String? = nil) {
        self.machineID = machineID
        self.systemUUID = systemUUID
        self.bootID = bootID
        self.kernelVersion = kernelVersion
        self.osImage = osImage
        self.containerRuntimeVersion = containerRuntimeVersion
        self.kubeletVersion = kubeletVersion
        self.kubeProxyVersion = kubeProxyVersion
        self.operatingSystem = operatingSystem
        self.architecture = architecture
    }
}

public struct ContainerImage: Codable, Hashable, Sendable {
    public var names: [String]?
    public var sizeBytes: Int64?

    public init(names: [String]? = nil, sizeBytes: Int64? = nil) {
        self.names = names
        self.sizeBytes = sizeBytes
    }
}

public struct AttachedVolume: Codable, Hashable, Sendable {
    public var name: String?
    public var devicePath: String?

    public init(name: String? = nil, devicePath: String? = nil) {
        self.name = name
        self.devicePath = devicePath
    }
}
