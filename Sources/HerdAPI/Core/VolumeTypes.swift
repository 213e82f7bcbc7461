import Foundation

// core/v1 types with upstream JSON names. Every field is optional so unset fields are omitted on encode.

/// A named volume; exactly one source is set.
public struct Volume: Codable, Hashable, Sendable {
    public var name: String?
    public var hostPath: HostPathVolumeSource?
    public var emptyDir: EmptyDirVolumeSource?
    public var secret: SecretVolumeSource?
    public var nfs: NFSVolumeSource?
    public var persistentVolumeClaim: PersistentVolumeClaimVolumeSource?
    public var downwardAPI: DownwardAPIVolumeSource?
    public var configMap: ConfigMapVolumeSource?
    public var projected: ProjectedVolumeSource?
    public var csi: CSIVolumeSource?
    public var ephemeral: EphemeralVolumeSource?
    public var image: ImageVolumeSource?

    public init(name: String? = nil, hostPath: HostPathVolumeSource? = nil, emptyDir: EmptyDirVolumeSource? = nil, secret: SecretVolumeSource? = nil, nfs: NFSVolumeSource? = nil, persistentVolumeClaim: PersistentVolumeClaimVolumeSource? = nil, downwardAPI: DownwardAPIVolumeSource? = nil, configMap: ConfigMapVolumeSource? = nil, projected: ProjectedVolumeSource? = nil, csi: CSIVolumeSource? = nil, ephemeral: EphemeralVolumeSource? = nil, image: ImageVolumeSource? = nil) {
        self.name = name
        self.hostPath = hostPath
        self.emptyDir = emptyDir
        self.secret = secret
        self.nfs = nfs
        self.persistentVolumeClaim = persistentVolumeClaim
        self.downwardAPI = downwardAPI
        self.configMap = configMap
        self.projected = projected
        self.csi = csi
        self.ephemeral = ephemeral
        self.image = image
    }
}

public struct HostPathVolumeSource: Codable, Hashable, Sendable {
    public var path: String?
    public var type: String?

    public init(path: String? = nil, type: String? = nil) {
        self.path = path
        self.type = type
    }
}

public struct EmptyDirVolumeSource: Codable, Hashable, Sendable {
    public var medium: String?
    public var sizeLimit: Quantity?

    public init(medium: String? = nil, sizeLimit: Quantity? = nil) {
        self.medium = medium
        self.sizeLimit = sizeLimit
    }
}

public struct SecretVolumeSource: Codable, Hashable, Sendable {
    public var secretName: String?
    public var items: [KeyToPath]?
    public var defaultMode: Int32?
    public var optional: Bool?

    public init(secretName: String? = nil, items: [KeyToPath]? = nil, defaultMode: Int32? = nil, optional: Bool? = nil) {
        self.secretName = secretName
        self.items = items
        self.defaultMode = defaultMode
        self.optional = optional
    }
}

public struct ConfigMapVolumeSource: Codable, Hashable, Sendable {
    public var name: String?
    public var items: [KeyToPath]?
    public var defaultMode: Int32?
    public var optional: Bool?

    public init(name: String? = nil, items: [KeyToPath]? = nil, defaultMode: Int32? = nil, optional: Bool? = nil) {
        self.name = name
        self.items = items
        self.defaultMode = defaultMode
        self.optional = optional
    }
}

public struct KeyToPath: Codable, Hashable, Sendable {
    public var key: String?
    public var path: String?
    public var mode: Int32?

    public init(key: String? = nil, path: String? = nil, mode: Int32? = nil) {
        self.key = key
        self.path = path
        self.mode = mode
    }
}

public struct NFSVolumeSource: Codable, Hashable, Sendable {
    public var server: String?
    public var path: String?
    public var readOnly: Bool?

    public init(server: String? = nil, path: String? = nil, readOnly: Bool? = nil) {
        self.server = server
        self.path = path
        self.readOnly = readOnly
    }
}

public struct PersistentVolumeClaimVolumeSource: Codable, Hashable, Sendable {
    public var claimName: String?
    public var readOnly: Bool?

    public init(claimName: String? = nil, readOnly: Bool? = nil) {
        self.claimName = claimName
        self.readOnly = readOnly
    }
}

public struct DownwardAPIVolumeSource: Codable, Hashable, Sendable {
    public var items: [DownwardAPIVolumeFile]?
    public var defaultMode: Int32?

    public init(items: [DownwardAPIVolumeFile]? = nil, defaultMode: Int32? = nil) {
        self.items = items
        self.defaultMode = defaultMode
    }
}

public struct DownwardAPIVolumeFile: Codable, Hashable, Sendable {
    public var path: String?
    public var fieldRef: ObjectFieldSelector?
    public var resourceFieldRef: ResourceFieldSelector?
    public var mode: Int32?

    public init(path: String? = nil, fieldRef: ObjectFieldSelector? = nil, resourceFieldRef: ResourceFieldSelector? = nil, mode: Int32? = nil) {
        self.path = path
        self.fieldRef = fieldRef
        self.resourceFieldRef = resourceFieldRef
        self.mode = mode
    }
}

public struct ProjectedVolumeSource: Codable, Hashable, Sendable {
    public var sources: [VolumeProjection]?
    public var defaultMode: Int32?

    public init(sources: [VolumeProjection]? = nil, defaultMode: Int32? = nil) {
        self.sources = sources
        self.defaultMode = defaultMode
    }
}

public struct VolumeProjection: Codable, Hashable, Sendable {
    public var secret: SecretProjection?
    public var downwardAPI: DownwardAPIProjection?
    public var configMap: ConfigMapProjection?
    public var serviceAccountToken: ServiceAccountTokenProjection?

    public init(secret: SecretProjection? = nil, downwardAPI: DownwardAPIProjection? = nil, configMap: ConfigMapProjection? = nil, serviceAccountToken: ServiceAccountTokenProjection? = nil) {
        self.secret = secret
        self.downwardAPI = downwardAPI
        self.configMap = configMap
        self.serviceAccountToken = serviceAccountToken
    }
}

public struct SecretProjection: Codable, Hashable, Sendable {
    public var name: String?
    public var items: [KeyToPath]?
    public var optional: Bool?

    public init(name: String? = nil, items: [KeyToPath]? = nil, optional: Bool? = nil) {
        self.name = name
        self.items = items
        self.optional = optional
    }
}

public struct ConfigMapProjection: Codable, Hashable, Sendable {
    public var name: String?
    public var items: [KeyToPath]?
    public var optional: Bool?

    public init(name: String? = nil, items: [KeyToPath]? = nil, optional: Bool? = nil) {
        self.name = name
        self.items = items
        self.optional = optional
    }
}

public struct DownwardAPIProjection: Codable, Hashable, Sendable {
    public var items: [DownwardAPIVolumeFile]?

    public init(items: [DownwardAPIVolumeFile]? = nil) {
        self.items = items
    }
}

public struct ServiceAccountTokenProjection: Codable, Hashable, Sendable {
    public var audience: String?
    public var expirationSeconds: Int64?
    public var path: String?

    public init(audience: String? = nil, expirationSeconds: Int64? = nil, path: String? = nil) {
        self.audience = audience
        self.expirationSeconds = expirationSeconds
        self.path = path
    }
}

public struct CSIVolumeSource: Codable, Hashable, Sendable {
    public var driver: String?
    public var readOnly: Bool?
    public var fsType: String?
    public var volumeAttributes: [String:String]?
    public var nodePublishSecretRef: LocalObjectReference?

    public init(driver: String? = nil, readOnly: Bool? = nil, fsType: String? = nil, volumeAttributes: [String:String]? = nil, nodePublishSecretRef: LocalObjectReference? = nil) {
        self.driver = driver
        self.readOnly = readOnly
        self.fsType = fsType
        self.volumeAttributes = volumeAttributes
        self.nodePublishSecretRef = nodePublishSecretRef
    }
}

public struct EphemeralVolumeSource: Codable, Hashable, Sendable {
    public var volumeClaimTemplate: JSONValue?

    public init(volumeClaimTemplate: JSONValue? = nil) {
        self.volumeClaimTemplate = volumeClaimTemplate
    }
}

public struct ImageVolumeSource: Codable, Hashable, Sendable {
    public var reference: String?
    public var pullPolicy: String?

    public init(reference: String? = nil, pullPolicy: String? = nil) {
        self.reference = reference
        self.pullPolicy = pullPolicy
    }
}
