import Foundation
import HerdAPI

/// A container's environment and command as the kubelet builds them: service variables, `env` with
/// `$(VAR)` expansion, `envFrom`, and the downward API. Pure: every object it reads is handed in.
struct ContainerEnvironment {
    /// Everything a container's environment can refer to.
    struct Sources {
        var pod: Pod
        var configMaps: (_ namespace: String, _ name: String) -> ConfigMap?
        var secrets: (_ namespace: String, _ name: String) -> Secret?
        /// Services in the pod's namespace (and `kubernetes` in default), for the service variables.
        var services: [Service]
        /// The node's allocatable (what an unset limit means for resourceFieldRef).
        var nodeAllocatable: [String: Quantity]
        var hostIP: String?
        var podIP: String?
        var podIPs: [String]
    }

    /// Expands `$(VAR)` references like upstream's `third_party/forked/golang/expansion`: `$$` is a literal
    /// `$`, a reference to an unknown variable or an unclosed `$(` stays as written.
    static func expand(_ input: String, _ lookup: (String) -> String?) -> String {
        let chars = Array(input)
        var out = ""
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "$", i + 1 < chars.count else {
                out.append(c)
                i += 1
                continue
            }
            let next = chars[i + 1]
            if next == "$" {
                out.append("$")
                i += 2
            } else if next == "(" {
                if let close = chars[(i + 2)...].firstIndex(of: ")") {
                    let name = String(chars[(i + 2)..<close])
                    if let value = lookup(name) { out += value } else { out += "$(\(name))" }
                    i = close + 1
                } else {
                    // unclosed: upstream keeps "$(" and the rest as written
                    out += String(chars[i...])
                    i = chars.count
                }
            } else {
                out.append(c)
                out.append(next)
                i += 2
            }
        }
        return out
    }

    /// The docker-links style variables of the services a pod sees (upstream `envvars.FromServices`).
    static func serviceVariables(_ services: [Service]) -> [EnvVarPair] {
        var out: [EnvVarPair] = []
        for service in services.sorted(by: { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }) {
            guard let ip = service.spec?.clusterIP, !ip.isEmpty, ip != "None" else { continue }
            let ports = service.spec?.ports ?? []
            guard let first = ports.first else { continue }
            let prefix = envName(service.metadata.name ?? "")
            out.append(EnvVarPair("\(prefix)_SERVICE_HOST", ip))
            out.append(EnvVarPair("\(prefix)_SERVICE_PORT", "\(first.port ?? 0)"))
            for port in ports {
                if let name = port.name, !name.isEmpty {
                    out.append(EnvVarPair("\(prefix)_SERVICE_PORT_\(envName(name))", "\(port.port ?? 0)"))
                }
            }
            let firstProto = (first.protocol ?? "TCP").lowercased()
            out.append(EnvVarPair("\(prefix)_PORT", "\(firstProto)://\(ip):\(first.port ?? 0)"))
            for port in ports {
                let proto = port.protocol ?? "TCP"
                let p = port.port ?? 0
                let base = "\(prefix)_PORT_\(p)_\(proto.uppercased())"
                out.append(EnvVarPair(base, "\(proto.lowercased())://\(ip):\(p)"))
                out.append(EnvVarPair(base + "_PROTO", proto.lowercased()))
                out.append(EnvVarPair(base + "_PORT", "\(p)"))
                out.append(EnvVarPair(base + "_ADDR", ip))
            }
        }
        return out
    }

    /// A service or port name as a variable name: upper case, `-` as `_`.
    static func envName(_ s: String) -> String {
        s.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The value of a downward API field path (upstream `podutil.ConvertDownwardAPIFieldLabel` +
    /// `fieldpath.ExtractFieldPathAsString`).
    static func fieldValue(_ path: String, sources: Sources) throws(AgentError) -> String {
        let pod = sources.pod
        if let key = subscriptKey(path, prefix: "metadata.labels") { return pod.metadata.labels?[key] ?? "" }
        if let key = subscriptKey(path, prefix: "metadata.annotations") { return pod.metadata.annotations?[key] ?? "" }
        switch path {
        case "metadata.name": return pod.metadata.name ?? ""
        case "metadata.namespace": return pod.metadata.namespace ?? ""
        case "metadata.uid": return pod.metadata.uid ?? ""
        case "metadata.labels": return formatMap(pod.metadata.labels ?? [:])
        case "metadata.annotations": return formatMap(pod.metadata.annotations ?? [:])
        case "spec.nodeName": return pod.spec?.nodeName ?? ""
        case "spec.serviceAccountName": return pod.spec?.serviceAccountName ?? ""
        case "status.hostIP": return sources.hostIP ?? ""
        case "status.hostIPs": return sources.hostIP ?? ""
        case "status.podIP": return sources.podIP ?? ""
        case "status.podIPs": return sources.podIPs.joined(separator: ",")
        default: throw .config("unsupported fieldPath: \(path)")
        }
    }

    /// `metadata.labels['key']` -> key.
    private static func subscriptKey(_ path: String, prefix: String) -> String? {
        guard path.hasPrefix(prefix + "['"), path.hasSuffix("']") else { return nil }
        return String(path.dropFirst(prefix.count + 2).dropLast(2))
    }

    /// Labels and annotations as the downward API writes them: sorted `k="v"` lines.
    static func formatMap(_ m: [String: String]) -> String {
        m.keys.sorted().map { k in
            let v = m[k]!.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(k)=\"\(v)\""
        }.joined(separator: "\n")
    }

    /// A resourceFieldRef value: the container's limit or request divided by the divisor, rounded up
    /// (upstream `resource.ExtractContainerResourceValue`); an unset limit is the node's allocatable.
    static func resourceValue(_ ref: ResourceFieldSelector, container: Container,
                              nodeAllocatable: [String: Quantity]) throws(AgentError) -> String {
        let resource = ref.resource ?? ""
        let parts = resource.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "limits" || parts[0] == "requests" else {
            throw .config("unsupported container resource: \(resource)")
        }
        let name = parts[1]
        var quantity: Quantity?
        if parts[0] == "limits" {
            quantity = container.resources?.limits?[name] ?? nodeAllocatable[name]
        } else {
            quantity = container.resources?.requests?[name]
            // upstream: an unset request defaults to the limit, then to zero (cpu requests of 0 read as 0)
            if quantity == nil { quantity = container.resources?.limits?[name] }
        }
        let divisor = ref.divisor.flatMap { $0.isZero ? nil : $0 } ?? Quantity(integer: 1)
        let value = quantity ?? Quantity(integer: 0)
        switch name {
        case "cpu":
            let m = value.milliValue, d = max(1, divisor.milliValue)
            return "\((m + d - 1) / d)"
        case "memory", "ephemeral-storage", "hugepages-2Mi", "hugepages-1Gi":
            let v = value.value, d = max(1, divisor.value)
            return "\((v + d - 1) / d)"
        default:
            throw .config("unsupported container resource: \(resource)")
        }
    }

    /// The container's environment, in upstream's order (service variables, then envFrom, then env), each
    /// name once (later wins), with `$(VAR)` expanded in env values against what came before.
    static func resolve(container: Container, sources: Sources) throws(AgentError) -> [EnvVarPair] {
        let namespace = sources.pod.metadata.namespace ?? "default"
        var values: [String: String] = [:]
        var order: [String] = []
        func set(_ name: String, _ value: String) {
            if values[name] == nil { order.append(name) }
            values[name] = value
        }
        for v in serviceVariables(sources.services) { set(v.name, v.value) }
        for from in container.envFrom ?? [] {
            let prefix = from.prefix ?? ""
            if let ref = from.configMapRef {
                let name = ref.name ?? ""
                guard let cm = sources.configMaps(namespace, name) else {
                    if ref.optional == true { continue }
                    throw .config("configmap \"\(name)\" not found")
                }
                for key in (cm.data ?? [:]).keys.sorted() { set(prefix + key, cm.data![key]!) }
            }
            if let ref = from.secretRef {
                let name = ref.name ?? ""
                guard let secret = sources.secrets(namespace, name) else {
                    if ref.optional == true { continue }
                    throw .config("secret \"\(name)\" not found")
                }
                for key in (secret.data ?? [:]).keys.sorted() { set(prefix + key, decodeSecret(secret.data![key]!)) }
            }
        }
        for env in container.env ?? [] {
            guard let name = env.name else { continue }
            if let source = env.valueFrom {
                if let ref = source.configMapKeyRef {
                    let cmName = ref.name ?? "", key = ref.key ?? ""
                    guard let cm = sources.configMaps(namespace, cmName) else {
                        if ref.optional == true { continue }
                        throw .config("configmap \"\(cmName)\" not found")
                    }
                    guard let value = cm.data?[key] else {
                        if ref.optional == true { continue }
                        throw .config("couldn't find key \(key) in ConfigMap \(namespace)/\(cmName)")
                    }
                    set(name, value)
                } else if let ref = source.secretKeyRef {
                    let secretName = ref.name ?? "", key = ref.key ?? ""
                    guard let secret = sources.secrets(namespace, secretName) else {
                        if ref.optional == true { continue }
                        throw .config("secret \"\(secretName)\" not found")
                    }
                    guard let value = secret.data?[key] else {
                        if ref.optional == true { continue }
                        throw .config("couldn't find key \(key) in Secret \(namespace)/\(secretName)")
                    }
                    set(name, decodeSecret(value))
                } else if let ref = source.fieldRef {
                    set(name, try fieldValue(ref.fieldPath ?? "", sources: sources))
                } else if let ref = source.resourceFieldRef {
                    var target = container
                    if let other = ref.containerName, !other.isEmpty, other != container.name {
                        let all = (sources.pod.spec?.containers ?? []) + (sources.pod.spec?.initContainers ?? [])
                        guard let found = all.first(where: { $0.name == other }) else {
                            throw .config("container \(other) not found in pod")
                        }
                        target = found
                    }
                    set(name, try resourceValue(ref, container: target, nodeAllocatable: sources.nodeAllocatable))
                }
            } else {
                let current = values
                set(name, expand(env.value ?? "") { current[$0] })
            }
        }
        return order.map { EnvVarPair($0, values[$0]!) }
    }

    /// `command` + `args` with `$(VAR)` expanded against the container's environment.
    static func argv(container: Container, env: [EnvVarPair]) -> [String] {
        var lookup: [String: String] = [:]
        for e in env { lookup[e.name] = e.value }
        return ((container.command ?? []) + (container.args ?? [])).map { expand($0) { lookup[$0] } }
    }

    static func decodeSecret(_ base64: String) -> String {
        guard let data = Data(base64Encoded: base64) else { return base64 }
        return String(decoding: data, as: UTF8.self)
    }

    /// The services a pod's environment describes: with `enableServiceLinks` (default true) every service of
    /// its namespace, and always the `kubernetes` service of `default` (upstream `getServiceEnvVarMap`).
    static func visibleServices(pod: Pod, all: [Service]) -> [Service] {
        let namespace = pod.metadata.namespace ?? "default"
        let links = pod.spec?.enableServiceLinks ?? true
        var byName: [String: Service] = [:]
        for s in all {
            let ns = s.metadata.namespace ?? "default"
            let name = s.metadata.name ?? ""
            if ns == "default" && name == "kubernetes" {
                if byName[name] == nil || ns != namespace { byName[name] = s }
            } else if links && ns == namespace {
                byName[name] = s
            }
        }
        return Array(byName.values)
    }

    /// `/etc/resolv.conf` for the pod by `dnsPolicy` (nil: the node's own file).
    static func resolvConf(pod: Pod, clusterDNS: [String], clusterDomain: String, hostResolvConf: String?) -> String? {
        let namespace = pod.metadata.namespace ?? "default"
        let policy = pod.spec?.dnsPolicy ?? "ClusterFirst"
        var nameservers: [String] = []
        var searches: [String] = []
        var options: [String] = []
        let host = parseResolvConf(hostResolvConf ?? "")
        switch policy {
        case "None":
            break
        case "ClusterFirst", "ClusterFirstWithHostNet":
            if policy == "ClusterFirst" && pod.spec?.hostNetwork == true || clusterDNS.isEmpty {
                // upstream: without cluster DNS (or a ClusterFirst hostNetwork pod) the pod gets the node's
                nameservers = host.nameservers
                searches = host.searches
                options = host.options
            } else {
                nameservers = clusterDNS
                searches = ["\(namespace).svc.\(clusterDomain)", "svc.\(clusterDomain)", clusterDomain]
                for s in host.searches where !searches.contains(s) { searches.append(s) }
                options = ["ndots:5"]
            }
        default:  // "Default": the node's
            nameservers = host.nameservers
            searches = host.searches
            options = host.options
        }
        if let config = pod.spec?.dnsConfig {
            for ns in config.nameservers ?? [] where !nameservers.contains(ns) { nameservers.append(ns) }
            for s in config.searches ?? [] where !searches.contains(s) { searches.append(s) }
            for o in config.options ?? [] {
                guard let name = o.name else { continue }
                options.removeAll { $0 == name || $0.hasPrefix(name + ":") }
                options.append(o.value.map { "\(name):\($0)" } ?? name)
            }
        }
        if hostResolvConf == nil && policy != "None" && nameservers.isEmpty && pod.spec?.dnsConfig == nil { return nil }
        var lines: [String] = []
        if !searches.isEmpty { lines.append("search " + searches.prefix(32).joined(separator: " ")) }
        for ns in nameservers.prefix(3) { lines.append("nameserver \(ns)") }
        if !options.isEmpty { lines.append("options " + options.joined(separator: " ")) }
        return lines.joined(separator: "\n") + "\n"
    }

    static func parseResolvConf(_ text: String) -> (nameservers: [String], searches: [String], options: [String]) {
        var nameservers: [String] = [], searches: [String] = [], options: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#"), !first.hasPrefix(";") else { continue }
            switch first {
            case "nameserver": if fields.count > 1 { nameservers.append(fields[1]) }
            case "search", "domain":
                // upstream: "example.org." and "example.org" are one search domain, and "." is none
                searches = []
                for f in fields.dropFirst() where f != "." {
                    let s = f.hasSuffix(".") ? String(f.dropLast()) : f
                    if !searches.contains(s) { searches.append(s) }
                }
            case "options":
                // a later option of the same name wins (upstream appendOptions)
                for o in fields.dropFirst() {
                    let name = o.split(separator: ":", maxSplits: 1).first.map(String.init) ?? o
                    options.removeAll { $0 == name || $0.hasPrefix(name + ":") }
                    options.append(o)
                }
            default: break
            }
        }
        return (nameservers, searches, options)
    }
}
