import HerdAPI

/// Discovery documents, legacy (APIVersions, APIGroupList, APIResourceList) and aggregated (v2).
struct DiscoveryDocuments: Sendable {
    let registry: KindRegistry

    static let verbsFull: [JSONValue] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    func verbs(_ info: ResourceInfo) -> [JSONValue] { Self.verbsFull }

    func subresourceVerbs(_ sub: String) -> [JSONValue] {
        switch sub {
        case "status", "scale", "finalize": return ["get", "patch", "update"]
        case "binding", "eviction": return ["create"]
        case "log": return ["get"]
        case "exec", "attach", "portforward", "proxy": return ["create", "get"]
        default: return ["get"]
        }
    }

    func subresourceKind(_ k: ResourceInfo, _ sub: String) -> (group: String, version: String, kind: String) {
        switch sub {
        case "scale": return ("autoscaling", "v1", "Scale")
        case "binding": return ("", "v1", "Binding")
        case "eviction": return ("policy", "v1", "Eviction")
        case "exec", "attach": return ("", "v1", k.kind + (sub == "exec" ? "ExecOptions" : "AttachOptions"))
        case "portforward": return ("", "v1", "PodPortForwardOptions")
        case "proxy": return ("", "v1", k.kind + "ProxyOptions")
        case "log": return ("", "v1", "Pod")
        default: return (k.group, k.version, k.kind)
        }
    }

    var apiVersions: JSONValue {
        ["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"]]]
    }

    func group(_ name: String) -> JSONValue? {
        guard let g = registry.groups.first(where: { $0.name == name }) else { return nil }
        let versions: [JSONValue] = g.versions.map { .object(["groupVersion": .string("\(name)/\($0)"), "version": .string($0)]) }
        return .object(["name": .string(name), "versions": .array(versions), "preferredVersion": versions[0]])
    }

    var apiGroupList: JSONValue {
        let groups = registry.groups.filter { !$0.name.isEmpty }.compactMap { g -> JSONValue? in
            guard var o = group(g.name)?.objectValue else { return nil }
            o["kind"] = nil
            return .object(o)
        }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)]
    }

    func apiGroup(_ name: String) -> JSONValue? {
        guard var o = group(name)?.objectValue else { return nil }
        o["kind"] = "APIGroup"
        o["apiVersion"] = "v1"
        return .object(o)
    }

    func resourceList(group: String, version: String) -> JSONValue {
        var resources: [JSONValue] = []
        for k in registry.servedInfos where k.group == group && k.version == version {
            var r: [String: JSONValue] = [
                "name": .string(k.plural), "singularName": .string(k.singular),
                "namespaced": .bool(k.namespaced), "kind": .string(k.kind), "verbs": .array(verbs(k)),
            ]
            if !k.shortNames.isEmpty { r["shortNames"] = .array(k.shortNames.map { .string($0) }) }
            if !k.categories.isEmpty { r["categories"] = .array(k.categories.map { .string($0) }) }
            r["storageVersionHash"] = .string(String(k.kind.hashValue & 0xffff_ffff, radix: 36))
            resources.append(.object(r))
            for sub in k.subresources {
                let sk = subresourceKind(k, sub)
                var s: [String: JSONValue] = [
                    "name": .string("\(k.plural)/\(sub)"), "singularName": "", "namespaced": .bool(k.namespaced),
                    "kind": .string(sk.kind), "verbs": .array(subresourceVerbs(sub)),
                ]
                if !sk.group.isEmpty || sk.version != version || sk.group != group {
                    if sk.group != group { s["group"] = .string(sk.group); s["version"] = .string(sk.version) }
                }
                resources.append(.object(s))
            }
        }
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"),
                "resources": .array(resources)]
    }

    /// apidiscovery.k8s.io/v2 APIGroupDiscoveryList for /api (core only) or /apis (named groups).
    func aggregated(core: Bool, version: String) -> JSONValue {
        var items: [JSONValue] = []
        for g in registry.groups where g.name.isEmpty == core {
            var versions: [JSONValue] = []
            for v in g.versions {
                var resources: [JSONValue] = []
                for k in registry.servedInfos where k.group == g.name && k.version == v {
                    var r: [String: JSONValue] = [
                        "resource": .string(k.plural),
                        "responseKind": ["group": .string(k.group), "version": .string(v), "kind": .string(k.kind)],
                        "scope": .string(k.namespaced ? "Namespaced" : "Cluster"),
                        "singularResource": .string(k.singular), "verbs": .array(verbs(k)),
                    ]
                    if !k.shortNames.isEmpty { r["shortNames"] = .array(k.shortNames.map { .string($0) }) }
                    if !k.categories.isEmpty { r["categories"] = .array(k.categories.map { .string($0) }) }
                    if !k.subresources.isEmpty {
                        r["subresources"] = .array(k.subresources.map { sub in
                            let sk = subresourceKind(k, sub)
                            return .object(["subresource": .string(sub),
                                            "responseKind": ["group": .string(sk.group), "version": .string(sk.version), "kind": .string(sk.kind)],
                                            "verbs": .array(subresourceVerbs(sub))])
                        })
                    }
                    resources.append(.object(r))
                }
                versions.append(["version": .string(v), "resources": .array(resources), "freshness": "Current"])
            }
            items.append(["metadata": ["name": .string(g.name)], "versions": .array(versions)])
        }
        return ["kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(version)"), "metadata": [:], "items": .array(items)]
    }
}
