import HerdAPI
import Testing
@testable import HerdClient

/// A discovery document shaped like the API server's aggregated discovery.
let sampleAggregated: JSONValue = [
    "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": [:],
    "items": [
        ["metadata": ["name": ""], "versions": [["version": "v1", "freshness": "Current", "resources": [
            ["resource": "pods", "responseKind": ["group": "", "version": "v1", "kind": "Pod"], "scope": "Namespaced",
             "singularResource": "pod", "verbs": ["get", "list", "watch", "create", "delete"], "shortNames": ["po"],
             "categories": ["all"],
             "subresources": [["subresource": "status", "verbs": ["get"]], ["subresource": "log", "verbs": ["get"]]]],
            ["resource": "services", "responseKind": ["group": "", "version": "v1", "kind": "Service"], "scope": "Namespaced",
             "singularResource": "service", "verbs": ["get", "list"], "shortNames": ["svc"], "categories": ["all"]],
            ["resource": "namespaces", "responseKind": ["group": "", "version": "v1", "kind": "Namespace"], "scope": "Cluster",
             "singularResource": "namespace", "verbs": ["get", "list"], "shortNames": ["ns"]],
            ["resource": "events", "responseKind": ["group": "", "version": "v1", "kind": "Event"], "scope": "Namespaced",
             "singularResource": "event", "verbs": ["get", "list"], "shortNames": ["ev"]],
        ]]]],
    ],
]

let sampleGroups: JSONValue = [
    "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": [:],
    "items": [
        ["metadata": ["name": "apps"], "versions": [["version": "v1", "resources": [
            ["resource": "deployments", "responseKind": ["group": "apps", "version": "v1", "kind": "Deployment"],
             "scope": "Namespaced", "singularResource": "deployment", "verbs": ["get", "list", "patch"],
             "shortNames": ["deploy"], "categories": ["all"], "subresources": [["subresource": "scale"]]],
        ]]]],
        ["metadata": ["name": "autoscaling"], "versions": [
            ["version": "v2", "resources": [
                ["resource": "horizontalpodautoscalers", "responseKind": ["group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"],
                 "scope": "Namespaced", "singularResource": "horizontalpodautoscaler", "verbs": ["get"], "shortNames": ["hpa"], "categories": ["all"]]]],
            ["version": "v1", "resources": [
                ["resource": "horizontalpodautoscalers", "responseKind": ["group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"],
                 "scope": "Namespaced", "singularResource": "horizontalpodautoscaler", "verbs": ["get"], "shortNames": ["hpa"], "categories": ["all"]]]],
        ]],
        ["metadata": ["name": "events.k8s.io"], "versions": [["version": "v1", "resources": [
            ["resource": "events", "responseKind": ["group": "events.k8s.io", "version": "v1", "kind": "Event"],
             "scope": "Namespaced", "singularResource": "event", "verbs": ["get", "list"], "shortNames": ["ev"]],
        ]]]],
    ],
]

func sampleMapper() -> RESTMapper {
    RESTMapper(resources: Discovery.parseAggregated(sampleAggregated) + Discovery.parseAggregated(sampleGroups))
}

@Suite struct RESTMapperTests {
    @Test(arguments: ["po", "pod", "pods", "Pod", "PODS"])
    func resolvesPodSpellings(_ input: String) throws {
        let r = try sampleMapper().resolve(input)
        #expect(r.group == "" && r.version == "v1" && r.plural == "pods" && r.kind == "Pod" && r.namespaced)
    }

    @Test(arguments: ["deploy", "deployment", "deployments", "Deployment", "deployments.apps", "deployments.v1.apps", "deploy.apps"])
    func resolvesDeploymentSpellings(_ input: String) throws {
        let r = try sampleMapper().resolve(input)
        #expect(r.group == "apps" && r.version == "v1" && r.plural == "deployments" && r.kind == "Deployment")
    }

    @Test func shortNameUsesPreferredVersion() throws {
        let r = try sampleMapper().resolve("hpa")
        #expect(r.group == "autoscaling" && r.version == "v2")
        let v1 = try sampleMapper().resolve("hpa.v1.autoscaling")
        #expect(v1.version == "v1")
    }

    @Test func coreGroupWinsOverNamedGroup() throws {
        let r = try sampleMapper().resolve("events")
        #expect(r.group == "")
        #expect(try sampleMapper().resolve("events.events.k8s.io").group == "events.k8s.io")
    }

    @Test func clusterScoped() throws {
        #expect(try sampleMapper().resolve("ns").namespaced == false)
    }

    @Test func unknownResourceErrorsLikeKubectl() {
        #expect(throws: HerdClientError.unknownResource("pdos")) { try sampleMapper().resolve("pdos") }
        #expect(HerdClientError.unknownResource("pdos").description == "the server doesn't have a resource type \"pdos\"")
        #expect(throws: HerdClientError.self) { try sampleMapper().resolve("deployments.v2.apps") }
    }

    @Test func categoryExpandsToPreferredResources() throws {
        let all = try sampleMapper().expand("all").map(\.groupResource)
        #expect(all == ["pods", "services", "deployments.apps", "horizontalpodautoscalers.autoscaling"])
    }

    @Test func mapsManifestKinds() throws {
        #expect(try sampleMapper().resource(apiVersion: "apps/v1", kind: "Deployment").plural == "deployments")
        #expect(try sampleMapper().resource(apiVersion: "v1", kind: "Namespace").namespaced == false)
        #expect(throws: HerdClientError.noKindMatch(kind: "Deployment", apiVersion: "apps/v2")) {
            try sampleMapper().resource(apiVersion: "apps/v2", kind: "Deployment")
        }
    }

    @Test func aggregatedSubresources() throws {
        let pods = Discovery.parseAggregated(sampleAggregated).first { $0.info.plural == "pods" }
        #expect(pods?.info.subresources == ["status", "log"])
        #expect(pods?.verbs.contains("watch") == true)
    }

    @Test func legacyResourceList() {
        let list: JSONValue = ["kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
            ["name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment",
             "verbs": ["get"], "shortNames": ["deploy"]],
            ["name": "deployments/scale", "singularName": "", "namespaced": true, "kind": "Scale", "verbs": ["get", "patch"]],
        ]]
        let rs = Discovery.parseResourceList(list, group: "apps", version: "v1", preferred: true)
        #expect(rs.count == 1)
        #expect(rs[0].info.subresources == ["scale"])
        #expect(rs[0].info.shortNames == ["deploy"])
    }

    @Test func aggregatedContentTypeDetection() {
        #expect(Discovery.isAggregated("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"))
        #expect(!Discovery.isAggregated("application/json"))
        #expect(!Discovery.isAggregated(nil))
    }

    @Test func paths() {
        let pods = ResourceInfo(group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod", namespaced: true)
        #expect(pods.path(namespace: "ns", name: "x", subresource: "status") == "/api/v1/namespaces/ns/pods/x/status")
        #expect(pods.path(namespace: nil) == "/api/v1/pods")
        let ns = ResourceInfo(group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false)
        #expect(ns.path(namespace: "ignored", name: "kube-system") == "/api/v1/namespaces/kube-system")
        let d = ResourceInfo(group: "apps", version: "v1", kind: "Deployment", plural: "deployments", singular: "deployment", namespaced: true)
        #expect(d.path(namespace: "default", name: "web", subresource: "scale") == "/apis/apps/v1/namespaces/default/deployments/web/scale")
        #expect(d.kindPrefix == "deployment.apps")
        #expect(d.groupResource == "deployments.apps")
    }
}
