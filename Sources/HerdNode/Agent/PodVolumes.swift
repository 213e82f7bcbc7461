import Foundation
import HerdAPI
#if canImport(Glibc)
import Glibc
#endif

/// Prepares a pod's volumes under `<pods>/<uid>/volumes/<plugin>/<name>` (upstream's layout, with
/// `kubernetes.io~empty-dir` style plugin directories) and turns volume mounts into runtime `Mount`s.
/// configMap, secret, downwardAPI and projected volumes are written like upstream's atomic writer: the files
/// live in a timestamped directory that the `..data` symlink points at, and every visible name is a symlink
/// through `..data`, so an update swaps all files at once and reaches running containers.
struct PodVolumes: Sendable {
    /// `<data-dir>/pods`.
    let root: String

    func podDirectory(uid: String) -> String { "\(root)/\(uid)" }

    static func pluginDirectory(_ volume: Volume) -> String? {
        if volume.emptyDir != nil { return "kubernetes.io~empty-dir" }
        if volume.configMap != nil { return "kubernetes.io~configmap" }
        if volume.secret != nil { return "kubernetes.io~secret" }
        if volume.downwardAPI != nil { return "kubernetes.io~downward-api" }
        if volume.projected != nil { return "kubernetes.io~projected" }
        return nil
    }

    /// The kind of an unsupported volume, for the message.
    static func unsupportedKind(_ v: Volume) -> String {
        if v.nfs != nil { return "nfs" }
        if v.persistentVolumeClaim != nil { return "persistentVolumeClaim" }
        if v.csi != nil { return "csi" }
        if v.ephemeral != nil { return "ephemeral" }
        if v.image != nil { return "image" }
        return "unknown"
    }

    /// Sets up (or refreshes) every volume of the pod; returns each volume's host path.
    func prepare(pod: Pod, sources: ContainerEnvironment.Sources) throws(AgentError) -> [String: String] {
        let uid = pod.metadata.uid ?? "unknown"
        let namespace = pod.metadata.namespace ?? "default"
        var paths: [String: String] = [:]
        for volume in pod.spec?.volumes ?? [] {
            let name = volume.name ?? ""
            if let hostPath = volume.hostPath {
                let path = hostPath.path ?? ""
                try checkHostPath(path, type: hostPath.type ?? "")
                paths[name] = path
                continue
            }
            guard let plugin = Self.pluginDirectory(volume) else {
                throw .volume("MountVolume.SetUp failed for volume \"\(name)\" : herd does not support \(Self.unsupportedKind(volume)) volumes")
            }
            let dir = "\(podDirectory(uid: uid))/volumes/\(plugin)/\(name)"
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw .volume("MountVolume.SetUp failed for volume \"\(name)\" : \(error.localizedDescription)")
            }
            paths[name] = dir
            do {
                if let emptyDir = volume.emptyDir {
                    if emptyDir.medium == "Memory" { try mountTmpfs(dir, sizeLimit: emptyDir.sizeLimit) }
                    continue
                }
                var files: [String: (Data, Int32)] = [:]
                if let source = volume.configMap {
                    try addConfigMap(name: source.name ?? "", items: source.items, optional: source.optional ?? false,
                                     defaultMode: source.defaultMode ?? 0o644, namespace: namespace, sources: sources, into: &files)
                } else if let source = volume.secret {
                    try addSecret(name: source.secretName ?? "", items: source.items, optional: source.optional ?? false,
                                  defaultMode: source.defaultMode ?? 0o644, namespace: namespace, sources: sources, into: &files)
                } else if let source = volume.downwardAPI {
                    try addDownwardAPI(source.items ?? [], defaultMode: source.defaultMode ?? 0o644, sources: sources, into: &files)
                } else if let source = volume.projected {
                    let mode = source.defaultMode ?? 0o644
                    for p in source.sources ?? [] {
                        if let cm = p.configMap {
                            try addConfigMap(name: cm.name ?? "", items: cm.items, optional: cm.optional ?? false, defaultMode: mode,
                                             namespace: namespace, sources: sources, into: &files)
                        }
                        if let secret = p.secret {
                            try addSecret(name: secret.name ?? "", items: secret.items, optional: secret.optional ?? false,
                                          defaultMode: mode, namespace: namespace, sources: sources, into: &files)
                        }
                        if let downward = p.downwardAPI {
                            try addDownwardAPI(downward.items ?? [], defaultMode: mode, sources: sources, into: &files)
                        }
                        // serviceAccountToken: herd issues no service account tokens yet; nothing is written
                    }
                }
                try AtomicWriter.write(files, to: dir)
            } catch let e as AgentError {
                throw .volume("MountVolume.SetUp failed for volume \"\(name)\" : \(e.description)")
            } catch {
                throw .volume("MountVolume.SetUp failed for volume \"\(name)\" : \(error)")
            }
        }
        return paths
    }

    /// The runtime mounts of a container's volumeMounts.
    static func mounts(for container: Container, pod: Pod, volumePaths: [String: String]) throws(AgentError) -> [Mount] {
        var out: [Mount] = []
        for vm in container.volumeMounts ?? [] {
            let name = vm.name ?? ""
            guard let hostPath = volumePaths[name] else {
                throw .config("volume \"\(name)\" of container \"\(container.name ?? "")\" is not defined in the pod")
            }
            let volume = pod.spec?.volumes?.first { $0.name == name }
            // upstream mounts these read-only whatever the mount says
            let alwaysReadOnly = volume?.configMap != nil || volume?.secret != nil || volume?.downwardAPI != nil || volume?.projected != nil
            var subPath = vm.subPath.flatMap { $0.isEmpty ? nil : $0 }
            if let p = subPath {
                if p.hasPrefix("/") || p.split(separator: "/").contains("..") {
                    throw .config("subPath \"\(p)\" must be a relative path without '..'")
                }
                // a subPath of a directory that does not exist yet is created (upstream does the same)
                let target = hostPath + "/" + p
                if !FileManager.default.fileExists(atPath: target) {
                    try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                }
                subPath = p
            }
            out.append(Mount(hostPath: hostPath, containerPath: vm.mountPath ?? "", readOnly: alwaysReadOnly || (vm.readOnly ?? false),
                             subPath: subPath))
        }
        return out
    }

    /// Unmounts what the pod's volumes mounted and removes its directory.
    func cleanup(uid: String) {
        let dir = podDirectory(uid: uid)
        let emptyDirs = "\(dir)/volumes/kubernetes.io~empty-dir"
        if let names = try? FileManager.default.contentsOfDirectory(atPath: emptyDirs) {
            for name in names {
                let path = "\(emptyDirs)/\(name)"
                if MountTable.isTmpfs(path) { _ = umount2(path, Int32(MNT_DETACH)) }
            }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: - sources

    private func addConfigMap(name: String, items: [KeyToPath]?, optional: Bool, defaultMode: Int32, namespace: String,
                              sources: ContainerEnvironment.Sources, into files: inout [String: (Data, Int32)]) throws(AgentError) {
        guard let cm = sources.configMaps(namespace, name) else {
            if optional { return }
            throw .config("configmap \"\(name)\" not found")
        }
        var data: [String: Data] = [:]
        for (k, v) in cm.data ?? [:] { data[k] = Data(v.utf8) }
        for (k, v) in cm.binaryData ?? [:] { data[k] = Data(base64Encoded: v) ?? Data() }
        try addKeys(data, items: items, optional: optional, defaultMode: defaultMode, kind: "configmap", into: &files)
    }

    private func addSecret(name: String, items: [KeyToPath]?, optional: Bool, defaultMode: Int32, namespace: String,
                           sources: ContainerEnvironment.Sources, into files: inout [String: (Data, Int32)]) throws(AgentError) {
        guard let secret = sources.secrets(namespace, name) else {
            if optional { return }
            throw .config("secret \"\(name)\" not found")
        }
        var data: [String: Data] = [:]
        for (k, v) in secret.data ?? [:] { data[k] = Data(base64Encoded: v) ?? Data() }
        try addKeys(data, items: items, optional: optional, defaultMode: defaultMode, kind: "secret", into: &files)
    }

    private func addKeys(_ data: [String: Data], items: [KeyToPath]?, optional: Bool, defaultMode: Int32, kind: String,
                         into files: inout [String: (Data, Int32)]) throws(AgentError) {
        if let items, !items.isEmpty {
            for item in items {
                let key = item.key ?? ""
                guard let value = data[key] else {
                    if optional { continue }
                    throw .config("\(kind) references non-existent config key: \(key)")
                }
                files[item.path ?? key] = (value, item.mode ?? defaultMode)
            }
        } else {
            for (k, v) in data { files[k] = (v, defaultMode) }
        }
    }

    private func addDownwardAPI(_ items: [DownwardAPIVolumeFile], defaultMode: Int32, sources: ContainerEnvironment.Sources,
                                into files: inout [String: (Data, Int32)]) throws(AgentError) {
        for item in items {
            let value: String
            if let ref = item.fieldRef {
                value = try ContainerEnvironment.fieldValue(ref.fieldPath ?? "", sources: sources)
            } else if let ref = item.resourceFieldRef {
                let all = (sources.pod.spec?.containers ?? []) + (sources.pod.spec?.initContainers ?? [])
                guard let container = all.first(where: { $0.name == ref.containerName }) else {
                    throw .config("container \(ref.containerName ?? "") not found in pod")
                }
                value = try ContainerEnvironment.resourceValue(ref, container: container, nodeAllocatable: sources.nodeAllocatable)
            } else {
                continue
            }
            files[item.path ?? ""] = (Data(value.utf8), item.mode ?? defaultMode)
        }
    }

    // MARK: - hostPath and tmpfs

    private func checkHostPath(_ path: String, type: String) throws(AgentError) {
        var st = stat()
        let exists = lstat(path, &st) == 0 || stat(path, &st) == 0
        let fmt = st.st_mode & S_IFMT
        func fail(_ what: String) -> AgentError { .volume("hostPath type check failed: \(path) is not \(what)") }
        switch type {
        case "":
            return
        case "DirectoryOrCreate":
            if !exists {
                do {
                    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                            attributes: [.posixPermissions: 0o755])
                } catch { throw .volume("hostPath \(path): cannot create directory: \(error.localizedDescription)") }
            } else if fmt != S_IFDIR { throw fail("a directory") }
        case "Directory":
            if !exists || fmt != S_IFDIR { throw fail("a directory") }
        case "FileOrCreate":
            if !exists {
                let parent = (path as NSString).deletingLastPathComponent
                try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644]) else {
                    throw .volume("hostPath \(path): cannot create file")
                }
            } else if fmt != S_IFREG { throw fail("a file") }
        case "File":
            if !exists || fmt != S_IFREG { throw fail("a file") }
        case "Socket":
            if !exists || fmt != S_IFSOCK { throw fail("a socket file") }
        case "CharDevice":
            if !exists || fmt != S_IFCHR { throw fail("a character device") }
        case "BlockDevice":
            if !exists || fmt != S_IFBLK { throw fail("a block device") }
        default:
            throw .volume("hostPath \(path): unknown type \"\(type)\"")
        }
    }

    /// `medium: Memory`: a tmpfs limited to sizeLimit (upstream: the pod's memory limit when unset; here the
    /// kernel's default half of RAM). Without the privilege to mount, the directory stays on disk.
    private func mountTmpfs(_ dir: String, sizeLimit: Quantity?) throws(AgentError) {
        if MountTable.isTmpfs(dir) { return }
        var options = "mode=0777"
        if let size = sizeLimit, size.value > 0 { options += ",size=\(size.value)" }
        if mount("tmpfs", dir, "tmpfs", 0, options) != 0 {
            let err = errno
            if err == EPERM { return }
            throw .volume("mount tmpfs on \(dir): \(String(cString: strerror(err)))")
        }
    }
}

/// Upstream's AtomicWriter: the payload goes to a fresh `..<timestamp>` directory, `..data` is swapped to it
/// with a rename (atomic), visible names are symlinks `name -> ..data/name`, then the old directory goes.
enum AtomicWriter {
    static func write(_ files: [String: (Data, Int32)], to dir: String) throws {
        let fm = FileManager.default
        let dataLink = dir + "/..data"
        // unchanged payload: nothing to do
        if let current = try? fm.destinationOfSymbolicLink(atPath: dataLink) {
            let currentDir = dir + "/" + current
            var same = true
            let existing = (try? listFiles(currentDir)) ?? []
            if Set(existing) != Set(files.keys) { same = false }
            if same {
                for (path, (data, mode)) in files {
                    let full = currentDir + "/" + path
                    let attrs = try? fm.attributesOfItem(atPath: full)
                    let perm = (attrs?[.posixPermissions] as? NSNumber)?.int32Value
                    if fm.contents(atPath: full) != data || perm != (mode & 0o777) { same = false; break }
                }
            }
            if same { return }
        }
        let stamp = "..\(RFC3339.format(Date(), fractional: true).replacingOccurrences(of: ":", with: "_"))\(UInt32.random(in: 0..<UInt32.max))"
        let newDir = dir + "/" + stamp
        try fm.createDirectory(atPath: newDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        for (path, (data, mode)) in files {
            guard !path.hasPrefix("/"), !path.split(separator: "/").contains(".."), !path.hasPrefix("..") else { continue }
            let full = newDir + "/" + path
            try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard fm.createFile(atPath: full, contents: data) else { throw AgentError.failed("cannot write \(full)") }
            chmod(full, mode_t(mode & 0o777))
        }
        let old = try? fm.destinationOfSymbolicLink(atPath: dataLink)
        let tmpLink = dir + "/..data_tmp"
        unlink(tmpLink)
        guard symlink(stamp, tmpLink) == 0, rename(tmpLink, dataLink) == 0 else {
            throw AgentError.failed("cannot swap \(dataLink): \(String(cString: strerror(errno)))")
        }
        // visible names: one symlink per top-level entry
        let top = Set(files.keys.compactMap { $0.split(separator: "/").first.map(String.init) })
        for name in top {
            let link = dir + "/" + name
            if (try? fm.destinationOfSymbolicLink(atPath: link)) != "..data/\(name)" {
                try? fm.removeItem(atPath: link)
                _ = symlink("..data/\(name)", link)
            }
        }
        for entry in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where !entry.hasPrefix("..") && !top.contains(entry) {
            try? fm.removeItem(atPath: dir + "/" + entry)
        }
        if let old, old != stamp { try? fm.removeItem(atPath: dir + "/" + old) }
    }

    private static func listFiles(_ dir: String) throws -> [String] {
        var out: [String] = []
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        while let p = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + p, isDirectory: &isDir), !isDir.boolValue { out.append(p) }
        }
        return out
    }
}
