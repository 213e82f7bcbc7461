import Foundation
import HerdAPI

/// One resource the server serves in one group-version, as discovery describes it.
public struct APIResource: Sendable, Hashable {
    public var info: ResourceInfo
    public var verbs: [String]
    /// True in the group's preferred version (the first one aggregated discovery lists).
    public var preferredVersion: Bool

    public init(info: ResourceInfo, verbs: [String], preferredVersion: Bool) {
        self.info = info
        self.verbs = verbs
        self.preferredVersion = preferredVersion
    }
}

/// Reads what the server serves from /api and /apis: aggregated discovery (apidiscovery.k8s.io/v2) when the
/// server answers with it, the legacy per-group-version documents otherwise.
public enum Discovery {
    public static func fetch(_ client: APIClient) async throws -> [APIResource] {
        var out = try await fetchRoot(client, root: "/api", core: true)
        out += try await fetchRoot(client, root: "/apis", core: false)
        return out
    }

    /// Whether a response is aggregated discovery: kubectl decides from the Content-Type alone.
    static func isAggregated(_ contentType: String?) -> Bool {
        guard let ct = contentType?.lowercased().replacingOccurrences(of: " ", with: "") else { return false }
        return ct.contains("as=apigroupdiscoverylist") && ct.contains("g=apidiscovery.k8s.io")
    }

    private static func fetchRoot(_ client: APIClient, root: String, core: Bool) async throws -> [APIResource] {
        let response = try await client.send(.GET, root, accept: MediaType.aggregatedDiscovery)
        let body = try response.json()
        if isAggregated(response.contentType) {
            return parseAggregated(body)
        }
        var out: [APIResource] = []
        if core {
            for (i, version) in (body["versions"]?.arrayValue ?? []).compactMap(\.stringValue).enumerated() {
                let list = try await client.send(.GET, "/api/\(version)").json()
                out += parseResourceList(list, group: "", version: version, preferred: i == 0)
            }
        } else {
            for group in body["groups"]?.arrayValue ?? [] {
                guard let name = group["name"]?.stringValue else { continue }
                let preferred = group["preferredVersion"]?["version"]?.stringValue
                let versions = (group["versions"]?.arrayValue ?? []).compactMap { $0["version"]?.stringValue }
                for version in versions {
                    // A broken group-version must not hide the others (kubectl only warns about it).
                    guard let list = try? await client.send(.GET, "/apis/\(name)/\(version)").json() else { continue }
                    out += parseResourceList(list, group: name, version: version,
                                             preferred: version == (preferred ?? versions.first))
                }
            }
        }
        return out
    }

    /// Parses an APIGroupDiscoveryList. Versions are listed in preference order.
    public static func parseAggregated(_ body: JSONValue) -> [APIResource] {
        var out: [APIResource] = []
        for item in body["items"]?.arrayValue ?? [] {
            let group = item["metadata"]?["name"]?.stringValue ?? ""
            for (i, v) in (item["versions"]?.arrayValue ?? []).enumerated() {
                guard let version = v["version"]?.stringValue else { continue }
                for r in v["resources"]?.arrayValue ?? [] {
                    guard let plural = r["resource"]?.stringValue, let kind = r["responseKind"]?["kind"]?.stringValue
                    else { continue }
                    let subresources = (r["subresources"]?.arrayValue ?? []).compactMap { $0["subresource"]?.stringValue }
                    let info = ResourceInfo(
                        group: group, version: version, kind: kind, plural: plural,
                        singular: r["singularResource"]?.stringValue ?? kind.lowercased(),
                        namespaced: r["scope"]?.stringValue == "Namespaced",
                        shortNames: strings(r["shortNames"]), categories: strings(r["categories"]),
                        subresources: subresources)
                    out.append(APIResource(info: info, verbs: strings(r["verbs"]), preferredVersion: i == 0))
                }
            }
        }
        return out
    }

    /// Parses a legacy APIResourceList; "pods/status"-style entries become subresources of their resource.
    public static func parseResourceList(_ body: JSONValue, group: String, version: String, preferred: Bool) -> [APIResource] {
        var out: [APIResource] = []
        var subs: [String: [String]] = [:]
        for r in body["resources"]?.arrayValue ?? [] {
            guard let name = r["name"]?.stringValue else { continue }
            if let slash = name.firstIndex(of: "/") {
                subs[String(name[..<slash]), default: []].append(String(name[name.index(after: slash)...]))
                continue
            }
            guard let kind = r["kind"]?.stringValue else { continue }
            let singular = r["singularName"]?.stringValue ?? ""
            let info = ResourceInfo(
                group: group, version: version, kind: kind, plural: name,
                singular: singular.isEmpty ? kind.lowercased() : singular,
                namespaced: r["namespaced"]?.boolValue ?? false,
                shortNames: strings(r["shortNames"]), categories: strings(r["categories"]))
            out.append(APIResource(info: info, verbs: strings(r["verbs"]), preferredVersion: preferred))
        }
        for i in out.indices { out[i].info.subresources = subs[out[i].info.plural] ?? [] }
        return out
    }

    private static func strings(_ v: JSONValue?) -> [String] {
        (v?.arrayValue ?? []).compactMap(\.stringValue)
    }
}

/// Resolves what users type ("po", "pods", "Pod", "deploy", "deployments.apps", "deployments.v1.apps") and
/// what manifests say (apiVersion + kind) to served resources, the way kubectl's RESTMapper does.
public struct RESTMapper: Sendable {
    public let resources: [APIResource]

    public init(resources: [APIResource]) {
        self.resources = resources
    }

    public func resolve(_ input: String) throws -> ResourceInfo {
        let s = input.lowercased()
        let parts = s.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.count >= 3, Self.looksLikeVersion(parts[1]) {
            let group = parts[2...].joined(separator: ".")
            if let r = match(parts[0], group: group, version: parts[1]) { return r }
        }
        if parts.count >= 2 {
            let group = parts[1...].joined(separator: ".")
            if let r = match(parts[0], group: group, version: nil) { return r }
        }
        if let r = match(s, group: nil, version: nil) { return r }
        throw HerdClientError.unknownResource(input)
    }

    /// `resolve` plus categories: "all" expands to every resource in that category (preferred versions).
    public func expand(_ input: String) throws -> [ResourceInfo] {
        if let r = try? resolve(input) { return [r] }
        let s = input.lowercased()
        var seen = Set<String>()
        let inCategory = resources.filter { $0.preferredVersion && $0.info.categories.contains(s) }
            .filter { seen.insert($0.info.groupResource).inserted }
            .map(\.info)
        if inCategory.isEmpty { throw HerdClientError.unknownResource(input) }
        return inCategory
    }

    /// The resource that serves `kind` in `apiVersion` ("apps/v1", "v1").
    public func resource(apiVersion: String, kind: String) throws -> ResourceInfo {
        let (group, version): (String, String)
        if let slash = apiVersion.firstIndex(of: "/") {
            group = String(apiVersion[..<slash])
            version = String(apiVersion[apiVersion.index(after: slash)...])
        } else {
            group = ""
            version = apiVersion
        }
        if let r = resources.first(where: { $0.info.group == group && $0.info.version == version && $0.info.kind == kind }) {
            return r.info
        }
        throw HerdClientError.noKindMatch(kind: kind, apiVersion: apiVersion)
    }

    private func match(_ name: String, group: String?, version: String?) -> ResourceInfo? {
        let candidates = resources.filter { r in
            (group == nil || r.info.group == group) && (version == nil ? r.preferredVersion : r.info.version == version)
        }
        // Full names win over short names, so a short name can never shadow a served resource.
        if let r = candidates.first(where: { $0.info.plural == name || $0.info.singular == name || $0.info.kind.lowercased() == name }) {
            return r.info
        }
        return candidates.first(where: { $0.info.shortNames.contains(name) })?.info
    }

    static func looksLikeVersion(_ s: String) -> Bool {
        var rest = Substring(s)
        guard rest.first == "v" else { return false }
        rest = rest.dropFirst()
        let major = rest.prefix(while: \.isNumber)
        guard !major.isEmpty else { return false }
        rest = rest.dropFirst(major.count)
        if rest.isEmpty { return true }
        for tag in ["alpha", "beta"] where rest.hasPrefix(tag) {
            let n = rest.dropFirst(tag.count)
            return !n.isEmpty && n.allSatisfy(\.isNumber)
        }
        return false
    }
}
