import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

/// HorizontalPodAutoscaler served at autoscaling/v1 and v2, stored once as v2.
@Suite struct HorizontalPodAutoscalerV1Tests {
    static let v1Path = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
    static let v2Path = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
    static let tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    static let aggregatedAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

    static func v1HPA(_ name: String, min: Int64? = 1, max: Int64 = 5, cpu: Int64? = 50, target: String? = "web") -> JSONValue {
        var spec: [String: JSONValue] = ["maxReplicas": .int(max)]
        if let min { spec["minReplicas"] = .int(min) }
        if let cpu { spec["targetCPUUtilizationPercentage"] = .int(cpu) }
        if let target { spec["scaleTargetRef"] = ["apiVersion": "apps/v1", "kind": "Deployment", "name": .string(target)] }
        return ["apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": ["name": .string(name)],
                "spec": .object(spec)]
    }

    static func v2HPA(_ name: String) -> JSONValue {
        [
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": ["name": .string(name)],
            "spec": [
                "scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "web"],
                "minReplicas": 2, "maxReplicas": 6,
                "metrics": [
                    ["type": "Resource", "resource": ["name": "memory", "target": ["type": "AverageValue", "averageValue": "500Mi"]]],
                    ["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": 60]]],
                ],
                "behavior": ["scaleDown": ["stabilizationWindowSeconds": 120, "policies": [["type": "Pods", "value": 1, "periodSeconds": 60]]]],
            ],
        ]
    }

    @Test func createAtV1ReadAtV2() async throws {
        try await TestCluster.with { c in
            let created = try await c.create(Self.v1Path, Self.v1HPA("web"))
            #expect(created.string("apiVersion") == "autoscaling/v1")
            #expect(created.int("spec.targetCPUUtilizationPercentage") == 50)
            #expect(created.at("spec.metrics") == nil)
            #expect(created.string("metadata.resourceVersion") != nil)

            let v2 = try await c.get(Self.v2Path + "/web")
            #expect(v2.string("apiVersion") == "autoscaling/v2")
            let metrics = v2.at("spec.metrics")?.arrayValue ?? []
            #expect(metrics.count == 1)
            #expect(metrics.first?.string("resource.name") == "cpu")
            #expect(metrics.first?.string("resource.target.type") == "Utilization")
            #expect(metrics.first?.int("resource.target.averageUtilization") == 50)
            #expect(v2.at("metadata.annotations") == nil)
            #expect(v2.string("metadata.resourceVersion") == created.string("metadata.resourceVersion"))

            let v1 = try await c.get(Self.v1Path + "/web")
            #expect(v1.string("apiVersion") == "autoscaling/v1")
            #expect(v1.int("spec.minReplicas") == 1)
            #expect(v1.int("spec.maxReplicas") == 5)
            #expect(v1.string("spec.scaleTargetRef.name") == "web")
            #expect(v1.int("spec.targetCPUUtilizationPercentage") == 50)
            #expect(v1.int("status.currentReplicas") == 0)

            // without a target, v1 gets upstream's default: CPU at 80%
            try await c.create(Self.v1Path, Self.v1HPA("plain", min: nil, cpu: nil))
            let plain = try await c.get(Self.v2Path + "/plain")
            #expect(plain.int("spec.minReplicas") == 1)
            #expect(plain.at("spec.metrics")?.arrayValue?.first?.int("resource.target.averageUtilization") == 80)
            #expect(try await c.get(Self.v1Path + "/plain").int("spec.targetCPUUtilizationPercentage") == 80)
        }
    }

    @Test func createAtV2ReadAndUpdateAtV1KeepsV2Fields() async throws {
        try await TestCluster.with { c in
            try await c.create(Self.v2Path, Self.v2HPA("web"))
            var v1 = try await c.get(Self.v1Path + "/web")
            #expect(v1.string("apiVersion") == "autoscaling/v1")
            #expect(v1.int("spec.targetCPUUtilizationPercentage") == 60)
            let annotations = v1.at("metadata.annotations")?.objectValue ?? [:]
            #expect(annotations[AutoscalingV1.metricSpecsAnnotation]?.stringValue?.contains("memory") == true)
            #expect(annotations[AutoscalingV1.behaviorAnnotation]?.stringValue?.contains("StabilizationWindowSeconds") == true)
            let generation = v1.int("metadata.generation")

            // a v1 client writes back what it read, with one change
            v1["spec"]?["maxReplicas"] = 9
            let updated = try await c.put(Self.v1Path + "/web", v1)
            #expect(updated.int("spec.maxReplicas") == 9)
            #expect(updated.int("metadata.generation") == (generation ?? 0) + 1)

            let v2 = try await c.get(Self.v2Path + "/web")
            #expect(v2.int("spec.maxReplicas") == 9)
            let names = (v2.at("spec.metrics")?.arrayValue ?? []).compactMap { $0.string("resource.name") }
            #expect(names == ["memory", "cpu"])
            #expect(v2.int("spec.behavior.scaleDown.stabilizationWindowSeconds") == 120)
            #expect(v2.at("metadata.annotations") == nil)

            // unchanged v1 write: no new generation, the same resourceVersion
            let again = try await c.get(Self.v1Path + "/web")
            let same = try await c.put(Self.v1Path + "/web", again)
            #expect(same.string("metadata.resourceVersion") == again.string("metadata.resourceVersion"))
        }
    }

    @Test func listWatchAndTableAtV1() async throws {
        try await TestCluster.with { c in
            let rv = try #require(try await c.get(Self.v1Path).string("metadata.resourceVersion"))
            var w = c.watch(Self.v1Path, query: [("resourceVersion", rv)])
            var w2 = c.watch(Self.v2Path, query: [("resourceVersion", rv)])
            // the legacy /watch/ path of one object
            var w3 = c.watch("/apis/autoscaling/v1/watch/namespaces/default/horizontalpodautoscalers/a", query: [("resourceVersion", rv)])
            try await c.create(Self.v1Path, Self.v1HPA("a"))
            try await c.create(Self.v2Path, Self.v2HPA("b"))
            try await c.delete(Self.v1Path + "/a")

            let events = try await w.next(3)
            #expect(events.map(\.type) == ["ADDED", "ADDED", "DELETED"])
            #expect(events.allSatisfy { $0.object.string("apiVersion") == "autoscaling/v1" })
            #expect(events.first?.object.int("spec.targetCPUUtilizationPercentage") == 50)
            #expect(events[1].object.int("spec.targetCPUUtilizationPercentage") == 60)
            #expect(events.allSatisfy { $0.object.at("spec.metrics") == nil })
            let events2 = try await w2.next(3)
            #expect(events2.allSatisfy { $0.object.string("apiVersion") == "autoscaling/v2" })
            #expect(events2.first?.object.at("spec.metrics") != nil)
            let events3 = try await w3.next(2)
            #expect(events3.map(\.type) == ["ADDED", "DELETED"])
            #expect(events3.allSatisfy { $0.object.string("apiVersion") == "autoscaling/v1" && $0.object.string("metadata.name") == "a" })

            try await c.create(Self.v1Path, Self.v1HPA("c", cpu: 70))
            let list = try await c.get(Self.v1Path)
            #expect(list.string("apiVersion") == "autoscaling/v1")
            #expect(list.string("kind") == "HorizontalPodAutoscalerList")
            #expect(list.items.map { $0.string("metadata.name") } == ["b", "c"])
            #expect(list.items.allSatisfy { $0.string("apiVersion") == "autoscaling/v1" && $0.at("spec.metrics") == nil })
            #expect(list.items.map { $0.int("spec.targetCPUUtilizationPercentage") } == [60, 70])
            let all = try await c.get("/apis/autoscaling/v1/horizontalpodautoscalers")
            #expect(all.items.count == 2 && all.string("apiVersion") == "autoscaling/v1")

            let table = try await c.get(Self.v1Path, accept: Self.tableAccept)
            #expect(table.string("kind") == "Table")
            let columns = (table.at("columnDefinitions")?.arrayValue ?? []).compactMap { $0.string("name") }
            #expect(columns == ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"])
            let row = table.at("rows")?.arrayValue?.last?.at("cells")?.arrayValue ?? []
            #expect(row.prefix(5) == ["c", "Deployment/web", "cpu: <unknown>/70%", "1", 5])
            let full = try await c.get(Self.v1Path, query: [("includeObject", "Object")], accept: Self.tableAccept)
            #expect(full.at("rows")?.arrayValue?.first?.string("object.apiVersion") == "autoscaling/v1")
        }
    }

    @Test func patchAtV1AppliesToTheV1Representation() async throws {
        try await TestCluster.with { c in
            try await c.create(Self.v2Path, Self.v2HPA("web"))
            let merge = try await c.patch(Self.v1Path + "/web", #"{"spec":{"targetCPUUtilizationPercentage":70}}"#,
                                          type: "application/merge-patch+json").json()
            #expect(merge.string("apiVersion") == "autoscaling/v1")
            #expect(merge.int("spec.targetCPUUtilizationPercentage") == 70)
            var v2 = try await c.get(Self.v2Path + "/web")
            let metrics = v2.at("spec.metrics")?.arrayValue ?? []
            #expect(metrics.compactMap { $0.string("resource.name") } == ["memory", "cpu"])
            #expect(metrics.last?.int("resource.target.averageUtilization") == 70)
            #expect(v2.int("spec.behavior.scaleDown.stabilizationWindowSeconds") == 120)

            let strategic = try await c.patch(Self.v1Path + "/web", #"{"spec":{"minReplicas":3}}"#,
                                              type: "application/strategic-merge-patch+json").json()
            #expect(strategic.int("spec.minReplicas") == 3)
            let json = try await c.patch(Self.v1Path + "/web",
                                         #"[{"op":"test","path":"/spec/targetCPUUtilizationPercentage","value":70},{"op":"replace","path":"/spec/maxReplicas","value":8}]"#,
                                         type: "application/json-patch+json").json()
            #expect(json.int("spec.maxReplicas") == 8)
            v2 = try await c.get(Self.v2Path + "/web")
            #expect(v2.int("spec.minReplicas") == 3 && v2.int("spec.maxReplicas") == 8)
            #expect(v2.at("spec.metrics")?.arrayValue?.count == 2)

            // a field v1 does not have is unknown at v1
            let strict = try? await c.patch(Self.v1Path + "/web", #"{"spec":{"metrics":[]}}"#, type: "application/merge-patch+json",
                                            query: [("fieldValidation", "Strict")])
            #expect(strict == nil)
            await expectAPIError(400) {
                try await c.patch(Self.v1Path + "/web", #"{"spec":{"metrics":[]}}"#, type: "application/merge-patch+json",
                                  query: [("fieldValidation", "Strict")])
            }
        }
    }

    @Test func statusSubresourceAtV1() async throws {
        try await TestCluster.with { c in
            try await c.create(Self.v1Path, Self.v1HPA("web"))
            var obj = try await c.get(Self.v1Path + "/web/status")
            obj["status"] = ["currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 41]
            obj["spec"]?["maxReplicas"] = 99
            let res = try await c.put(Self.v1Path + "/web/status", obj)
            #expect(res.int("status.currentCPUUtilizationPercentage") == 41)
            #expect(res.int("spec.maxReplicas") == 5)
            let v2 = try await c.get(Self.v2Path + "/web")
            #expect(v2.int("status.desiredReplicas") == 3)
            #expect(v2.at("status.currentMetrics")?.arrayValue?.first?.int("resource.current.averageUtilization") == 41)
            #expect(v2.int("spec.maxReplicas") == 5)
            let patched = try await c.patch(Self.v1Path + "/web/status", #"{"status":{"desiredReplicas":4}}"#,
                                            type: "application/merge-patch+json").json()
            #expect(patched.int("status.desiredReplicas") == 4)
            #expect(patched.int("status.currentCPUUtilizationPercentage") == 41)
        }
    }

    @Test func invalidAtV1IsUnprocessableWithV1Paths() async throws {
        try await TestCluster.with { c in
            let zero = await expectAPIError(422, "Invalid") { try await c.create(Self.v1Path, Self.v1HPA("a", min: 0)) }
            #expect(zero?.status.details?.causes?.map(\.field) == ["spec.minReplicas"])
            #expect(zero?.status.details?.kind == "HorizontalPodAutoscaler")
            #expect(zero?.status.details?.group == "autoscaling")
            let inverted = await expectAPIError(422, "Invalid") { try await c.create(Self.v1Path, Self.v1HPA("b", min: 4, max: 2)) }
            #expect(inverted?.status.details?.causes?.map(\.field) == ["spec.maxReplicas"])
            let untargeted = await expectAPIError(422, "Invalid") { try await c.create(Self.v1Path, Self.v1HPA("c", target: nil)) }
            #expect(untargeted?.status.details?.causes?.map(\.field) == ["spec.scaleTargetRef.kind", "spec.scaleTargetRef.name"])
            await expectAPIError(400, "BadRequest") {
                var wrong = Self.v1HPA("d")
                wrong["apiVersion"] = "autoscaling/v2"
                return try await c.create(Self.v1Path, wrong)
            }
            await expectAPIError(400, "BadRequest") {
                var broken = Self.v1HPA("e")
                broken["metadata"]?["annotations"] = .object([AutoscalingV1.metricSpecsAnnotation: "{"])
                return try await c.create(Self.v1Path, broken)
            }
            #expect(try await c.get(Self.v2Path).items.isEmpty)

            try await c.create(Self.v1Path, Self.v1HPA("ok"))
            await expectAPIError(422, "Invalid") {
                try await c.patch(Self.v1Path + "/ok", #"{"spec":{"minReplicas":0}}"#, type: "application/merge-patch+json")
            }
            #expect(try await c.get(Self.v2Path + "/ok").int("spec.minReplicas") == 1)
        }
    }

    @Test func deleteAndDeleteCollectionAtV1() async throws {
        try await TestCluster.with { c in
            try await c.create(Self.v1Path, Self.v1HPA("a"))
            try await c.create(Self.v1Path, Self.v1HPA("b"))
            try await c.create(Self.v1Path, Self.v1HPA("c"))
            let gone = try await c.delete(Self.v1Path + "/a").json()
            #expect(gone.string("apiVersion") == "autoscaling/v1")
            #expect(gone.int("spec.targetCPUUtilizationPercentage") == 50)
            let all = try await c.delete(Self.v1Path).json()
            #expect(all.string("apiVersion") == "autoscaling/v1")
            #expect(all.items.count == 2)
            #expect(all.items.allSatisfy { $0.string("apiVersion") == "autoscaling/v1" })
            #expect(try await c.get(Self.v2Path).items.isEmpty)
            await expectAPIError(404, "NotFound") { try await c.get(Self.v1Path + "/a") }
        }
    }

    @Test func discoveryListsBothVersions() async throws {
        try await TestCluster.with { c in
            let group = try await c.get("/apis/autoscaling")
            #expect(group.at("versions")?.arrayValue?.compactMap { $0.string("version") } == ["v2", "v1"])
            #expect(group.string("preferredVersion.version") == "v2")
            let groups = try await c.get("/apis")
            let autoscaling = groups.at("groups")?.arrayValue?.first { $0.string("name") == "autoscaling" }
            #expect(autoscaling?.at("versions")?.arrayValue?.compactMap { $0.string("groupVersion") } == ["autoscaling/v2", "autoscaling/v1"])

            let v1 = try await c.get("/apis/autoscaling/v1")
            #expect(v1.string("groupVersion") == "autoscaling/v1")
            let resources = (v1.at("resources")?.arrayValue ?? []).compactMap { $0.string("name") }
            #expect(resources == ["horizontalpodautoscalers", "horizontalpodautoscalers/status"])
            let hpa = v1.at("resources")?.arrayValue?.first
            #expect(hpa?.string("kind") == "HorizontalPodAutoscaler")
            #expect(hpa?.at("shortNames")?.arrayValue == ["hpa"])
            #expect(hpa?.at("verbs")?.arrayValue?.count == 8)

            let aggregated = try await c.get("/apis", accept: Self.aggregatedAccept)
            let item = aggregated.items.first { $0.string("metadata.name") == "autoscaling" }
            let versions = item?.at("versions")?.arrayValue ?? []
            #expect(versions.compactMap { $0.string("version") } == ["v2", "v1"])
            let v1Resources = versions.last?.at("resources")?.arrayValue ?? []
            #expect(v1Resources.compactMap { $0.string("resource") } == ["horizontalpodautoscalers"])
            #expect(v1Resources.first?.string("responseKind.version") == "v1")

            let openapi = try await c.get("/openapi/v3")
            #expect(openapi.at("paths")?.objectValue?["apis/autoscaling/v1"] != nil)
            let doc = try await c.get("/openapi/v3/apis/autoscaling/v1")
            #expect(doc.at("components")?.objectValue?["schemas"]?.objectValue?["io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler"] != nil)
        }
    }
}
