import Foundation

// core/v1 types with upstream JSON names. Every field is optional so unset fields are omitted on encode.

/// core/v1 PodSpec: the desired state of a pod.
public struct PodSpec: Codable, Hashable, Sendable {
    public var volumes: [Volume]?
    public var initContainers: [Container]?
    public var containers: [Container]?
    public var ephemeralContainers: [EphemeralContainer]?
    public var restartPolicy: String?
    public var terminationGracePeriodSeconds: Int64?
    public var activeDeadlineSeconds: Int64?
    public var dnsPolicy: String?
    public var nodeSelector: [String:String]?
    public var serviceAccountName: String?
    public var serviceAccount: String?
    public var automountServiceAccountToken: Bool?
    public var nodeName: String?
    public var hostNetwork: Bool?
    public var hostPID: Bool?
    public var hostIPC: Bool?
    public var shareProcessNamespace: Bool?
    public var securityContext: PodSecurityContext?
    public var imagePullSecrets: [LocalObjectReference]?
    public var hostname: String?
    public var subdomain: String?
    public var setHostnameAsFQDN: Bool?
    public var affinity: Affinity?
    public var schedulerName: String?
    public var tolerations: [Toleration]?
    public var hostAliases: [HostAlias]?
    public var priorityClassName: String?
    public var priority: Int32?
    public var dnsConfig: PodDNSConfig?
    public var readinessGates: [PodReadinessGate]?
    public var runtimeClassName: String?
    public var enableServiceLinks: Bool?
    public var preemptionPolicy: String?
    public var overhead: [String:Quantity]?
    public var topologySpreadConstraints: [TopologySpreadConstraint]?
    public var os: PodOS?
    public var hostUsers: Bool?
    public var schedulingGates: [PodSchedulingGate]?

    public init(volumes: [Volume]? = nil, initContainers: [Container]? = nil, containers: [Container]? = nil, ephemeralContainers: [EphemeralContainer]? = nil, restartPolicy: String? = nil, terminationGracePeriodSeconds: Int64? = nil, activeDeadlineSeconds: Int64? = nil, dnsPolicy: String? = nil, nodeSelector: [String:String]? = nil, serviceAccountName: String? = nil, serviceAccount: String? = nil, automountServiceAccountToken: Bool? = nil, nodeName: String? = nil, hostNetwork: Bool? = nil, hostPID: Bool? = nil, hostIPC: Bool? = nil, shareProcessNamespace: Bool? = nil, securityContext: PodSecurityContext? = nil, imagePullSecrets: [LocalObjectReference]? = nil, hostname: String? = nil, subdomain: String? = nil, setHostnameAsFQDN: Bool? = nil, affinity: Affinity? = nil, schedulerName: String? = nil, tolerations: [Toleration]? = nil, hostAliases: [HostAlias]? = nil, priorityClassName: String? = nil, priority: Int32? = nil, dnsConfig: PodDNSConfig? = nil, readinessGates: [PodReadinessGate]? = nil, runtimeClassName: String? = nil, enableServiceLinks: Bool? = nil, preemptionPolicy: String? = nil, overhead: [String:Quantity]? = nil, topologySpreadConstraints: [TopologySpreadConstraint]? = nil, os: PodOS? = nil, hostUsers: Bool? = nil, schedulingGates: [PodSchedulingGate]? = nil) {
        self.volumes = volumes
        self.initContainers = initContainers
        self.containers = containers
        self.ephemeralContainers = ephemeralContainers
        self.restartPolicy = restartPolicy
        self.terminationGracePeriodSeconds = terminationGracePeriodSeconds
        self.activeDeadlineSeconds = activeDeadlineSeconds
        self.dnsPolicy = dnsPolicy
        self.nodeSelector = nodeSelector
        self.serviceAccountName = serviceAccountName
        self.serviceAccount = serviceAccount
        self.automountServiceAccountToken = automountServiceAccountToken
        self.nodeName = nodeName
        self.hostNetwork = hostNetwork
        self.hostPID = hostPID
        self.hostIPC = hostIPC
        self.shareProcessNamespace = shareProcessNamespace
        self.securityContext = securityContext
        self.imagePullSecrets = imagePullSecrets
        self.hostname = hostname
        self.subdomain = subdomain
        self.setHostnameAsFQDN = setHostnameAsFQDN
        self.affinity = affinity
        self.schedulerName = schedulerName
        self.tolerations = tolerations
        self.hostAliases = hostAliases
        self.priorityClassName = priorityClassName
        self.priority = priority
        self.dnsConfig = dnsConfig
        self.readinessGates = readinessGates
        self.runtimeClassName = runtimeClassName
        self.enableServiceLinks = enableServiceLinks
        self.preemptionPolicy = preemptionPolicy
        self.overhead = overhead
        self.topologySpreadConstraints = topologySpreadConstraints
        self.os = os
        self.hostUsers = hostUsers
        self.schedulingGates = schedulingGates
    }
}

/// A process in a pod.
public struct Container: Codable, Hashable, Sendable {
    public var name: String?
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var workingDir: String?
    public var ports: [ContainerPort]?
    public var envFrom: [EnvFromSource]?
    public var env: [EnvVar]?
    public var resources: ResourceRequirements?
    public var resizePolicy: [ContainerResizePolicy]?
    public var restartPolicy: String?
    public var volumeMounts: [VolumeMount]?
    public var volumeDevices: [VolumeDevice]?
    public var livenessProbe: Probe?
    public var readinessProbe: Probe?
    public var startupProbe: Probe?
    public var lifecycle: Lifecycle?
    public var terminationMessagePath: String?
    public var terminationMessagePolicy: String?
    public var imagePullPolicy: String?
    public var securityContext: SecurityContext?
    public var stdin: Bool?
    public var stdinOnce: Bool?
    public var tty: Bool?

    public init(name: String? = nil, image: String? = nil, command: [String]? = nil, args: [String]? = nil, workingDir: String? = nil, ports: [ContainerPort]? = nil, envFrom: [EnvFromSource]? = nil, env: [EnvVar]? = nil, resources: ResourceRequirements? = nil, resizePolicy: [ContainerResizePolicy]? = nil, restartPolicy: String? = nil, volumeMounts: [VolumeMount]? = nil, volumeDevices: [VolumeDevice]? = nil, livenessProbe: Probe? = nil, readinessProbe: Probe? = nil, startupProbe: Probe? = nil, lifecycle: Lifecycle? = nil, terminationMessagePath: String? = nil, terminationMessagePolicy: String? = nil, imagePullPolicy: String? = nil, securityContext: SecurityContext? = nil, stdin: Bool? = nil, stdinOnce: Bool? = nil, tty: Bool? = nil) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.workingDir = workingDir
        self.ports = ports
        self.envFrom = envFrom
        self.env = env
        self.resources = resources
        self.resizePolicy = resizePolicy
        self.restartPolicy = restartPolicy
        self.volumeMounts = volumeMounts
        self.volumeDevices = volumeDevices
        self.livenessProbe = livenessProbe
        self.readinessProbe = readinessProbe
        self.startupProbe = startupProbe
        self.lifecycle = lifecycle
        self.terminationMessagePath = terminationMessagePath
        self.terminationMessagePolicy = terminationMessagePolicy
        self.imagePullPolicy = imagePullPolicy
        self.securityContext = securityContext
        self.stdin = stdin
        self.stdinOnce = stdinOnce
        self.tty = tty
    }
}

/// A debugging container added to a running pod (kubectl debug); the container fields plus its target.
public struct EphemeralContainer: Codable, Hashable, Sendable {
    public var name: String?
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var workingDir: String?
    public var ports: [ContainerPort]?
    public var envFrom: [EnvFromSource]?
    public var env: [EnvVar]?
    public var resources: ResourceRequirements?
    public var resizePolicy: [ContainerResizePolicy]?
    public var restartPolicy: String?
    public var volumeMounts: [VolumeMount]?
    public var volumeDevices: [VolumeDevice]?
    public var livenessProbe: Probe?
    public var readinessProbe: Probe?
    public var startupProbe: Probe?
    public var lifecycle: Lifecycle?
    public var terminationMessagePath: String?
    public var terminationMessagePolicy: String?
    public var imagePullPolicy: String?
    public var securityContext: SecurityContext?
    public var stdin: Bool?
    public var stdinOnce: Bool?
    public var tty: Bool?
    public var targetContainerName: String?

    public init(name: String? = nil, image: String? = nil, command: [String]? = nil, args: [String]? = nil, workingDir: String? = nil, ports: [ContainerPort]? = nil, envFrom: [EnvFromSource]? = nil, env: [EnvVar]? = nil, resources: ResourceRequirements? = nil, resizePolicy: [ContainerResizePolicy]? = nil, restartPolicy: String? = nil, volumeMounts: [VolumeMount]? = nil, volumeDevices: [VolumeDevice]? = nil, livenessProbe: Probe? = nil, readinessProbe: Probe? = nil, startupProbe: Probe? = nil, lifecycle: Lifecycle? = nil, terminationMessagePath: String? = nil, terminationMessagePolicy: String? = nil, imagePullPolicy: String? = nil, securityContext: SecurityContext? = nil, stdin: Bool? = nil, stdinOnce: Bool? = nil, tty: Bool? = nil, targetContainerName: String? = nil) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.workingDir = workingDir
        self.ports = ports
        self.envFrom = envFrom
        self.env = env
        self.resources = resources
        self.resizePolicy = resizePolicy
        self.restartPolicy = restartPolicy
        self.volumeMounts = volumeMounts
        self.volumeDevices = volumeDevices
        self.livenessProbe = livenessProbe
        self.readinessProbe = readinessProbe
        self.startupProbe = startupProbe
        self.lifecycle = lifecycle
        self.terminationMessagePath = terminationMessagePath
        self.terminationMessagePolicy = terminationMessagePolicy
        self.imagePullPolicy = imagePullPolicy
        self.securityContext = securityContext
        self.stdin = stdin
        self.stdinOnce = stdinOnce
        self.tty = tty
        self.targetContainerName = targetContainerName
    }
}

public struct ContainerPort: Codable, Hashable, Sendable {
    public var name: String?
    public var hostPort: Int32?
    public var containerPort: Int32?
    public var `protocol`: String?
    public var hostIP: String?

    public init(name: String? = nil, hostPort: Int32? = nil, containerPort: Int32? = nil, `protocol`: String? = nil, hostIP: String? = nil) {
        self.name = name
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.`protocol` = `protocol`
        self.hostIP = hostIP
    }
}

public struct ContainerResizePolicy: Codable, Hashable, Sendable {
    public var resourceName: String?
    public var restartPolicy: String?

    public init(resourceName: String? = nil, restartPolicy: String? = nil) {
        self.resourceName = resourceName
        self.restartPolicy = restartPolicy
    }
}

public struct EnvVar: Codable, Hashable, Sendable {
    public var name: String?
    public var value: String?
    public var valueFrom: EnvVarSource?

    public init(name: String? = nil, value: String? = nil, valueFrom: EnvVarSource? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }
}

public struct EnvVarSource: Codable, Hashable, Sendable {
    public var fieldRef: ObjectFieldSelector?
    public var resourceFieldRef: ResourceFieldSelector?
    public var configMapKeyRef: ConfigMapKeySelector?
    public var secretKeyRef: SecretKeySelector?

    public init(fieldRef: ObjectFieldSelector? = nil, resourceFieldRef: ResourceFieldSelector? = nil, configMapKeyRef: ConfigMapKeySelector? = nil, secretKeyRef: SecretKeySelector? = nil) {
        self.fieldRef = fieldRef
        self.resourceFieldRef = resourceFieldRef
        self.configMapKeyRef = configMapKeyRef
        self.secretKeyRef = secretKeyRef
    }
}

public struct ObjectFieldSelector: Codable, Hashable, Sendable {
    public var apiVersion: String?
    public var fieldPath: String?

    public init(apiVersion: String? = nil, fieldPath: String? = nil) {
        self.apiVersion = apiVersion
        self.fieldPath = fieldPath
    }
}

public struct ResourceFieldSelector: Codable, Hashable, Sendable {
    public var containerName: String?
    public var resource: String?
    public var divisor: Quantity?

    public init(containerName: String? = nil, resource: String? = nil, divisor: Quantity? = nil) {
        self.containerName = containerName
        self.resource = resource
        self.divisor = divisor
    }
}

public struct ConfigMapKeySelector: Codable, Hashable, Sendable {
    public var name: String?
    public var key: String?
    public var optional: Bool?

    public init(name: String? = nil, key: String? = nil, optional: Bool? = nil) {
        self.name = name
        self.key = key
        self.optional = optional
    }
}

public struct SecretKeySelector: Codable, Hashable, Sendable {
    public var name: String?
    public var key: String?
    public var optional: Bool?

    public init(name: String? = nil, key: String? = nil, optional: Bool? = nil) {
        self.name = name
        self.key = key
        self.optional = optional
    }
}

public struct EnvFromSource: Codable, Hashable, Sendable {
    public var prefix: String?
    public var configMapRef: ConfigMapEnvSource?
    public var secretRef: SecretEnvSource?

    public init(prefix: String? = nil, configMapRef: ConfigMapEnvSource? = nil, secretRef: SecretEnvSource? = nil) {
        self.prefix = prefix
        self.configMapRef = configMapRef
        self.secretRef = secretRef
    }
}

public struct ConfigMapEnvSource: Codable, Hashable, Sendable {
    public var name: String?
    public var optional: Bool?

    public init(name: String? = nil, optional: Bool? = nil) {
        self.name = name
        self.optional = optional
    }
}

public struct SecretEnvSource: Codable, Hashable, Sendable {
    public var name: String?
    public var optional: Bool?

    public init(name: String? = nil, optional: Bool? = nil) {
        self.name = name
        self.optional = optional
    }
}

/// Requests and limits by resource name ("cpu", "memory", ...).
public struct ResourceRequirements: Codable, Hashable, Sendable {
    public var limits: [String:Quantity]?
    public var requests: [String:Quantity]?
    public var claims: [ResourceClaim]?

    public init(limits: [String:Quantity]? = nil, requests: [String:Quantity]? = nil, claims: [ResourceClaim]? = nil) {
        self.limits = limits
        self.requests = requests
        self.claims = claims
    }
}

public struct ResourceClaim: Codable, Hashable, Sendable {
    public var name: String?
    public var request: String?

    public init(name: String? = nil, request: String? = nil) {
        self.name = name
        self.request = request
    }
}

public struct VolumeMount: Codable, Hashable, Sendable {
    public var name: String?
    public var readOnly: Bool?
    public var recursiveReadOnly: String?
    public var mountPath: String?
    public var subPath: String?
    public var mountPropagation: String?
    public var subPathExpr: String?

    public init(name: String? = nil, readOnly: Bool? = nil, recursiveReadOnly: String? = nil, mountPath: String? = nil, subPath: String? = nil, mountPropagation: String? = nil, subPathExpr: String? = nil) {
        self.name = name
        self.readOnly = readOnly
        self.recursiveReadOnly = recursiveReadOnly
        self.mountPath = mountPath
        self.subPath = subPath
        self.mountPropagation = mountPropagation
        self.subPathExpr = subPathExpr
    }
}

public struct VolumeDevice: Codable, Hashable, Sendable {
    public var name: String?
    public var devicePath: String?

    public init(name: String? = nil, devicePath: String? = nil) {
        self.name = name
        self.devicePath = devicePath
    }
}

/// A health check: one handler plus timing.
public struct Probe: Codable, Hashable, Sendable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    public var grpc: GRPCAction?
    public var initialDelaySeconds: Int32?
    public var timeoutSeconds: Int32?
    public var periodSeconds: Int32?
    public var successThreshold: Int32?
    public var failureThreshold: Int32?
    public var terminationGracePeriodSeconds: Int64?

    public init(exec: ExecAction? = nil, httpGet: HTTPGetAction? = nil, tcpSocket: TCPSocketAction? = nil, grpc: GRPCAction? = nil, initialDelaySeconds: Int32? = nil, timeoutSeconds: Int32? = nil, periodSeconds: Int32? = nil, successThreshold: Int32? = nil, failureThreshold: Int32? = nil, terminationGracePeriodSeconds: Int64? = nil) {
        self.exec = exec
        self.httpGet = httpGet
        self.tcpSocket = tcpSocket
        self.grpc = grpc
        self.initialDelaySeconds = initialDelaySeconds
        self.timeoutSeconds = timeoutSeconds
        self.periodSeconds = periodSeconds
        self.successThreshold = successThreshold
        self.failureThreshold = failureThreshold
        self.terminationGracePeriodSeconds = terminationGracePeriodSeconds
    }
}

public struct ExecAction: Codable, Hashable, Sendable {
    public var command: [String]?

    public init(command: [String]? = nil) {
        self.command = command
    }
}

public struct HTTPGetAction: Codable, Hashable, Sendable {
    public var path: String?
    public var port: IntOrString?
    public var host: String?
    public var scheme: String?
    public var httpHeaders: [HTTPHeader]?

    public init(path: String? = nil, port: IntOrString? = nil, host: String? = nil, scheme: String? = nil, httpHeaders: [HTTPHeader]? = nil) {
        self.path = path
        self.port = port
        self.host = host
        self.scheme = scheme
        self.httpHeaders = httpHeaders
    }
}

public struct HTTPHeader: Codable, Hashable, Sendable {
    public var name: String?
    public var value: String?

    public init(name: String? = nil, value: String? = nil) {
        self.name = name
        self.value = value
    }
}

public struct TCPSocketAction: Codable, Hashable, Sendable {
    public var port: IntOrString?
    public var host: String?

    public init(port: IntOrString? = nil, host: String? = nil) {
        self.port = port
        self.host = host
    }
}

public struct GRPCAction: Codable, Hashable, Sendable {
    public var port: Int32?
    public var service: String?

    public init(port: Int32? = nil, service: String? = nil) {
        self.port = port
        self.service = service
    }
}

public struct Lifecycle: Codable, Hashable, Sendable {
    public var postStart: LifecycleHandler?
    public var preStop: LifecycleHandler?
    public var stopSignal: String?

    public init(postStart: LifecycleHandler? = nil, preStop: LifecycleHandler? = nil, stopSignal: String? = nil) {
        self.postStart = postStart
        self.preStop = preStop
        self.stopSignal = stopSignal
    }
}

public struct LifecycleHandler: Codable, Hashable, Sendable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    public var sleep: SleepAction?

    public init(exec: ExecAction? = nil, httpGet: HTTPGetAction? = nil, tcpSocket: TCPSocketAction? = nil, sleep: SleepAction? = nil) {
        self.exec = exec
        self.httpGet = httpGet
        self.tcpSocket = tcpSocket
        self.sleep = sleep
    }
}

public struct SleepAction: Codable, Hashable, Sendable {
    public var seconds: Int64?

    public init(seconds: Int64? = nil) {
        self.seconds = seconds
    }
}

/// Container-level security settings.
public struct SecurityContext: Codable, Hashable, Sendable {
    public var capabilities: Capabilities?
    public var privileged: Bool?
    public var seLinuxOptions: SELinuxOptions?
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var readOnlyRootFilesystem: Bool?
    public var allowPrivilegeEscalation: Bool?
    public var procMount: String?
    public var seccompProfile: SeccompProfile?
    public var appArmorProfile: AppArmorProfile?

    public init(capabilities: Capabilities? = nil, privileged: Bool? = nil, seLinuxOptions: SELinuxOptions? = nil, runAsUser: Int64? = nil, runAsGroup: Int64? = nil, runAsNonRoot: Bool? = nil, readOnlyRootFilesystem: Bool? = nil, allowPrivilegeEscalation: Bool? = nil, procMount: String? = nil, seccompProfile: SeccompProfile? = nil, appArmorProfile: AppArmorProfile? = nil) {
        self.capabilities = capabilities
        self.privileged = privileged
        self.seLinuxOptions = seLinuxOptions
        self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup
        self.runAsNonRoot = runAsNonRoot
        self.readOnlyRootFilesystem = readOnlyRootFilesystem
        self.allowPrivilegeEscalation = allowPrivilegeEscalation
        self.procMount = procMount
        self.seccompProfile = seccompProfile
        self.appArmorProfile = appArmorProfile
    }
}

public struct Capabilities: Codable, Hashable, Sendable {
    public var add: [String]?
    public var drop: [String]?

    public init(add: [String]? = nil, drop: [String]? = nil) {
        self.add = add
        self.drop = drop
    }
}

public struct SELinuxOptions: Codable, Hashable, Sendable {
    public var user: String?
    public var role: String?
    public var type: String?
    public var level: String?

    public init(user: String? = nil, role: String? = nil, type: String? = nil, level: String? = nil) {
        self.user = user
        self.role = role
        self.type = type
        self.level = level
    }
}

public struct SeccompProfile: Codable, Hashable, Sendable {
    public var type: String?
    public var localhostProfile: String?

    public init(type: String? = nil, localhostProfile: String? = nil) {
        self.type = type
        self.localhostProfile = localhostProfile
    }
}

public struct AppArmorProfile: Codable, Hashable, Sendable {
    public var type: String?
    public var localhostProfile: String?

    public init(type: String? = nil, localhostProfile: String? = nil) {
        self.type = type
        self.localhostProfile = localhostProfile
    }
}

/// Pod-level security settings, applied to every container.
public struct PodSecurityContext: Codable, Hashable, Sendable {
    public var seLinuxOptions: SELinuxOptions?
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var supplementalGroups: [Int64]?
    public var supplementalGroupsPolicy: String?
    public var fsGroup: Int64?
    public var sysctls: [Sysctl]?
    public var fsGroupChangePolicy: String?
    public var seccompProfile: SeccompProfile?
    public var appArmorProfile: AppArmorProfile?

    public init(seLinuxOptions: SELinuxOptions? = nil, runAsUser: Int64? = nil, runAsGroup: Int64? = nil, runAsNonRoot: Bool? = nil, supplementalGroups: [Int64]? = nil, supplementalGroupsPolicy: String? = nil, fsGroup: Int64? = nil, sysctls: [Sysctl]? = nil, fsGroupChangePolicy: String? = nil, seccompProfile: SeccompProfile? = nil, appArmorProfile: AppArmorProfile? = nil) {
        self.seLinuxOptions = seLinuxOptions
        self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup
        self.runAsNonRoot = runAsNonRoot
        self.supplementalGroups = supplementalGroups
        self.supplementalGroupsPolicy = supplementalGroupsPolicy
        self.fsGroup = fsGroup
        self.sysctls = sysctls
        self.fsGroupChangePolicy = fsGroupChangePolicy
        self.seccompProfile = seccompProfile
        self.appArmorProfile = appArmorProfile
    }
}

public struct Sysctl: Codable, Hashable, Sendable {
    public var name: String?
    public var value: String?

    public init(name: String? = nil, value: String? = nil) {
        self.name = name
        self.value = value
    }
}

public struct LocalObjectReference: Codable, Hashable, Sendable {
    public var name: String?

    public init(name: String? = nil) {
        self.name = name
    }
}

public struct Affinity: Codable, Hashable, Sendable {
    public var nodeAffinity: NodeAffinity?
    public var podAffinity: PodAffinity?
    public var podAntiAffinity: PodAntiAffinity?

    public init(nodeAffinity: NodeAffinity? = nil, podAffinity: PodAffinity? = nil, podAntiAffinity: PodAntiAffinity? = nil) {
        self.nodeAffinity = nodeAffinity
        self.podAffinity = podAffinity
        self.podAntiAffinity = podAntiAffinity
    }
}

public struct NodeAffinity: Codable, Hashable, Sendable {
    public var requiredDuringSchedulingIgnoredDuringExecution: NodeSelector?
    public var preferredDuringSchedulingIgnoredDuringExecution: [PreferredSchedulingTerm]?

    public init(requiredDuringSchedulingIgnoredDuringExecution: NodeSelector? = nil, preferredDuringSchedulingIgnoredDuringExecution: [PreferredSchedulingTerm]? = nil) {
        self.requiredDuringSchedulingIgnoredDuringExecution = requiredDuringSchedulingIgnoredDuringExecution
        self.preferredDuringSchedulingIgnoredDuringExecution = preferredDuringSchedulingIgnoredDuringExecution
    }
}

/// Node selector terms, ORed.
public struct NodeSelector: Codable, Hashable, Sendable {
    public var nodeSelectorTerms: [NodeSelectorTerm]?

    public init(nodeSelectorTerms: [NodeSelectorTerm]? = nil) {
        self.nodeSelectorTerms = nodeSelectorTerms
    }
}

/// Requirements, ANDed.
public struct NodeSelectorTerm: Codable, Hashable, Sendable {
    public var matchExpressions: [NodeSelectorRequirement]?
    public var matchFields: [NodeSelectorRequirement]?

    public init(matchExpressions: [NodeSelectorRequirement]? = nil, matchFields: [NodeSelectorRequirement]? = nil) {
        self.matchExpressions = matchExpressions
        self.matchFields = matchFields
    }
}

/// key, operator (In, NotIn, Exists, DoesNotExist, Gt, Lt) and values.
public struct NodeSelectorRequirement: Codable, Hashable, Sendable {
    public var key: String?
    public var `operator`: String?
    public var values: [String]?

    public init(key: String? = nil, `operator`: String? = nil, values: [String]? = nil) {
        self.key = key
        self.`operator` = `operator`
        self.values = values
    }
}

public struct PreferredSchedulingTerm: Codable, Hashable, Sendable {
    public var weight: Int32?
    public var preference: NodeSelectorTerm?

    public init(weight: Int32? = nil, preference: NodeSelectorTerm? = nil) {
        self.weight = weight
        self.preference = preference
    }
}

public struct PodAffinity: Codable, Hashable, Sendable {
    public var requiredDuringSchedulingIgnoredDuringExecution: [PodAffinityTerm]?
    public var preferredDuringSchedulingIgnoredDuringExecution: [WeightedPodAffinityTerm]?

    public init(requiredDuringSchedulingIgnoredDuringExecution: [PodAffinityTerm]? = nil, preferredDuringSchedulingIgnoredDuringExecution: [WeightedPodAffinityTerm]? = nil) {
        self.requiredDuringSchedulingIgnoredDuringExecution = requiredDuringSchedulingIgnoredDuringExecution
        self.preferredDuringSchedulingIgnoredDuringExecution = preferredDuringSchedulingIgnoredDuringExecution
    }
}

public struct PodAntiAffinity: Codable, Hashable, Sendable {
    public var requiredDuringSchedulingIgnoredDuringExecution: [PodAffinityTerm]?
    public var preferredDuringSchedulingIgnoredDuringExecution: [WeightedPodAffinityTerm]?

    public init(requiredDuringSchedulingIgnoredDuringExecution: [PodAffinityTerm]? = nil, preferredDuringSchedulingIgnoredDuringExecution: [WeightedPodAffinityTerm]? = nil) {
        self.requiredDuringSchedulingIgnoredDuringExecution = requiredDuringSchedulingIgnoredDuringExecution
        self.preferredDuringSchedulingIgnoredDuringExecution = preferredDuringSchedulingIgnoredDuringExecution
    }
}

public struct PodAffinityTerm: Codable, Hashable, Sendable {
    public var labelSelector: LabelSelector?
    public var namespaces: [String]?
    public var topologyKey: String?
    public var namespaceSelector: LabelSelector?
    public var matchLabelKeys: [String]?
    public var mismatchLabelKeys: [String]?

    public init(labelSelector: LabelSelector? = nil, namespaces: [String]? = nil, topologyKey: String? = nil, namespaceSelector: LabelSelector? = nil, matchLabelKeys: [String]? = nil, mismatchLabelKeys: [String]? = nil) {
        self.labelSelector = labelSelector
        self.namespaces = namespaces
        self.topologyKey = topologyKey
        self.namespaceSelector = namespaceSelector
        self.matchLabelKeys = matchLabelKeys
        self.mismatchLabelKeys = mismatchLabelKeys
    }
}

public struct WeightedPodAffinityTerm: Codable, Hashable, Sendable {
    public var weight: Int32?
    public var podAffinityTerm: PodAffinityTerm?

    public init(weight: Int32? = nil, podAffinityTerm: PodAffinityTerm? = nil) {
        self.weight = weight
        self.podAffinityTerm = podAffinityTerm
    }
}

/// Lets a pod schedule onto (or stay on) nodes with a matching taint.
public struct Toleration: Codable, Hashable, Sendable {
    public var key: String?
    public var `operator`: String?
    public var value: String?
    public var effect: String?
    public var tolerationSeconds: Int64?

    public init(key: String? = nil, `operator`: String? = nil, value: String? = nil, effect: String? = nil, tolerationSeconds: Int64? = nil) {
        self.key = key
        self.`operator` = `operator`
        self.value = value
        self.effect = effect
        self.tolerationSeconds = tolerationSeconds
    }
}

public struct HostAlias: Codable, Hashable, Sendable {
    public var ip: String?
    public var hostnames: [String]?

    public init(ip: String? = nil, hostnames: [String]? = nil) {
        self.ip = ip
        self.hostnames = hostnames
    }
}

public struct PodDNSConfig: Codable, Hashable, Sendable {
    public var nameservers: [String]?
    public var searches: [String]?
    public var options: [PodDNSConfigOption]?

    public init(nameservers: [String]? = nil, searches: [String]? = nil, options: [PodDNSConfigOption]? = nil) {
        self.nameservers = nameservers
        self.searches = searches
        self.options = options
    }
}

public struct PodDNSConfigOption: Codable, Hashable, Sendable {
    public var name: String?
    public var value: String?

    public init(name: String? = nil, value: String? = nil) {
        self.name = name
        self.value = value
    }
}

public struct PodReadinessGate: Codable, Hashable, Sendable {
    public var conditionType: String?

    public init(conditionType: String? = nil) {
        self.conditionType = conditionType
    }
}

public struct TopologySpreadConstraint: Codable, Hashable, Sendable {
    public var maxSkew: Int32?
    public var topologyKey: String?
    public var whenUnsatisfiable: String?
    public var labelSelector: LabelSelector?
    public var minDomains: Int32?
    public var nodeAffinityPolicy: String?
    public var nodeTaintsPolicy: String?
    public var matchLabelKeys: [String]?

    public init(maxSkew: Int32? = nil, topologyKey: String? = nil, whenUnsatisfiable: String? = nil, labelSelector: LabelSelector? = nil, minDomains: Int32? = nil, nodeAffinityPolicy: String? = nil, nodeTaintsPolicy: String? = nil, matchLabelKeys: [String]? = nil) {
        self.maxSkew = maxSkew
        self.topologyKey = topologyKey
        self.whenUnsatisfiable = whenUnsatisfiable
        self.labelSelector = labelSelector
        self.minDomains = minDomains
        self.nodeAffinityPolicy = nodeAffinityPolicy
        self.nodeTaintsPolicy = nodeTaintsPolicy
        self.matchLabelKeys = matchLabelKeys
    }
}

public struct PodOS: Codable, Hashable, Sendable {
    public var name: String?

    public init(name: String? = nil) {
        self.name = name
    }
}

public struct PodSchedulingGate: Codable, Hashable, Sendable {
    public var name: String?

    public init(name: String? = nil) {
        self.name = name
    }
}

/// core/v1 PodStatus: what the node agent last observed.
public struct PodStatus: Codable, Hashable, Sendable {
    public var phase: String?
    public var conditions: [PodCondition]?
    public var message: String?
    public var reason: String?
    public var nominatedNodeName: String?
    public var hostIP: String?
    public var hostIPs: [HostIP]?
    public var podIP: String?
    public var podIPs: [PodIP]?
    public var startTime: Time?
    public var initContainerStatuses: [ContainerStatus]?
    public var containerStatuses: [ContainerStatus]?
    public var ephemeralContainerStatuses: [ContainerStatus]?
    public var qosClass: String?
    public var observedGeneration: Int64?

    public init(phase: String? = nil, conditions: [PodCondition]? = nil, message: String? = nil, reason: String? = nil, nominatedNodeName: String? = nil, hostIP: String? = nil, hostIPs: [HostIP]? = nil, podIP: String? = nil, podIPs: [PodIP]? = nil, startTime: Time? = nil, initContainerStatuses: [ContainerStatus]? = nil, containerStatuses: [ContainerStatus]? = nil, ephemeralContainerStatuses: [ContainerStatus]? = nil, qosClass: String? = nil, observedGeneration: Int64? = nil) {
        self.phase = phase
        self.conditions = conditions
        self.message = message
        self.reason = reason
        self.nominatedNodeName = nominatedNodeName
        self.hostIP = hostIP
        self.hostIPs = hostIPs
        self.podIP = podIP
        self.podIPs = podIPs
        self.startTime = startTime
        self.initContainerStatuses = initContainerStatuses
        self.containerStatuses = containerStatuses
        self.ephemeralContainerStatuses = ephemeralContainerStatuses
        self.qosClass = qosClass
        self.observedGeneration = observedGeneration
    }
}

public struct HostIP: Codable, Hashable, Sendable {
    public var ip: String?

    public init(ip: String? = nil) {
        self.ip = ip
    }
}

public struct PodIP: Codable, Hashable, Sendable {
    public var ip: String?

    public init(ip: String? = nil) {
        self.ip = ip
    }
}

public struct PodCondition: Codable, Hashable, Sendable {
    public var type: String?
    public var observedGeneration: Int64?
    public var status: String?
    public var lastProbeTime: Time?
    public var lastTransitionTime: Time?
    public var reason: String?
    public var message: String?

    public init(type: String? = nil, observedGeneration: Int64? = nil, status: String? = nil, lastProbeTime: Time? = nil, lastTransitionTime: Time? = nil, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.observedGeneration = observedGeneration
        self.status = status
        self.lastProbeTime = lastProbeTime
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}

public struct ContainerStatus: Codable, Hashable, Sendable {
    public var name: String?
    public var state: ContainerState?
    public var lastState: ContainerState?
    public var ready: Bool?
    public var restartCount: Int32?
    public var image: String?
    public var imageID: String?
    public var containerID: String?
    public var started: Bool?
    public var allocatedResources: [String:Quantity]?
    public var resources: ResourceRequirements?

    public init(name: String? = nil, state: ContainerState? = nil, lastState: ContainerState? = nil, ready: Bool? = nil, restartCount: Int32? = nil, image: String? = nil, imageID: String? = nil, containerID: String? = nil, started: Bool? = nil, allocatedResources: [String:Quantity]? = nil, resources: ResourceRequirements? = nil) {
        self.name = name
        self.state = state
        self.lastState = lastState
        self.ready = ready
        self.restartCount = restartCount
        self.image = image
        self.imageID = imageID
        self.containerID = containerID
        self.started = started
        self.allocatedResources = allocatedResources
        self.resources = resources
    }
}

/// Exactly one of waiting, running or terminated.
public struct ContainerState: Codable, Hashable, Sendable {
    public var waiting: ContainerStateWaiting?
    public var running: ContainerStateRunning?
    public var terminated: ContainerStateTerminated?

    public init(waiting: ContainerStateWaiting? = nil, running: ContainerStateRunning? = nil, terminated: ContainerStateTerminated? = nil) {
        self.waiting = waiting
        self.running = running
        self.terminated = terminated
    }
}

public struct ContainerStateWaiting: Codable, Hashable, Sendable {
    public var reason: String?
    public var message: String?

    public init(reason: String? = nil, message: String? = nil) {
        self.reason = reason
        self.message = message
    }
}

public struct ContainerStateRunning: Codable, Hashable, Sendable {
    public var startedAt: Time?

    public init(startedAt: Time? = nil) {
        self.startedAt = startedAt
    }
}

public struct ContainerStateTerminated: Codable, Hashable, Sendable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var reason: String?
    public var message: String?
    public var startedAt: Time?
    public var finishedAt: Time?
    public var containerID: String?

    public init(exitCode: Int32? = nil, signal: Int32? = nil, reason: String? = nil, message: String? = nil, startedAt: Time? = nil, finishedAt: Time? = nil, containerID: String? = nil) {
        self.exitCode = exitCode
        self.signal = signal
        self.reason = reason
        self.message = message
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.containerID = containerID
    }
}
