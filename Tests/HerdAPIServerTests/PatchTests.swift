import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct PatchTests {
    private let mergeType = "application/merge-patch+json"
    private let jsonPatchType = "application/json-patch+json"
    private let strategicType = "application/strategic-merge-patch+json"
    private let applyType = "application/apply-patch+yaml"

    @Test func mergePatch() async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("cm", data: ["a": "1", "keep": "k"]))
            let res = try await c.patch(cmPath + "/cm", #"{"data":{"a":null,"b":"2"},"metadata":{"labels":{"l":"v"}}}"#, type: mergeType)
            #expect(res.status == 200)
            let out = try res.json()
            #expect(out.at("data") == ["b": "2", "keep": "k"])
            #expect(out.string("metadata.labels.l") == "v")
            #expect(try await c.get(cmPath + "/cm").at("data") == ["b": "2", "keep": "k"])
            await expectAPIError(404, "NotFound") { try await c.patch(cmPath + "/missing", "{}", type: mergeType) }
        }
    }

    @Test func mergePatchWithStaleResourceVersionConflicts() async throws {
        try await TestCluster.with { c in
            let created = try await c.create(cmPath, configMap("cm", data: ["a": "1"]))
            let rv = try #require(created.string("metadata.resourceVersion"))
            try await c.patch(cmPath + "/cm", #"{"data":{"a":"2"}}"#, type: mergeType)
            await expectAPIError(409, "Conflict") {
                try await c.patch(cmPath + "/cm", #"{"metadata":{"resourceVersion":"\#(rv)"},"data":{"a":"3"}}"#, type: mergeType)
            }
            #expect(try await c.get(cmPath + "/cm").string("data.a") == "2")
        }
    }

    @Test func jsonPatch() async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("cm", data: ["a": "1", "c": "3"]))
            let ops = #"[{"op":"add","path":"/data/b","value":"2"},{"op":"replace","path":"/data/a","value":"9"},{"op":"remove","path":"/data/c"},{"op":"test","path":"/data/b","value":"2"}]"#
            let out = try await c.patch(cmPath + "/cm", ops, type: jsonPatchType).json()
            #expect(out.at("data") == ["a": "9", "b": "2"])
            await expectAPIError(422) {
                try await c.patch(cmPath + "/cm", #"[{"op":"remove","path":"/data/nothere"}]"#, type: jsonPatchType)
            }
            await expectAPIError(422) {
                try await c.patch(cmPath + "/cm", #"[{"op":"test","path":"/data/a","value":"1"}]"#, type: jsonPatchType)
            }
            #expect(try await c.get(cmPath + "/cm").at("data") == ["a": "9", "b": "2"])
        }
    }

    @Test func strategicMergeMergesContainersByName() async throws {
        try await TestCluster.with { c in
            try await c.create(deployPath, deployment("web", containers: [
                ["name": "a", "image": "nginx:1.0"], ["name": "b", "image": "redis:1.0"],
            ]))
            let patch = #"{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"redis:2.0"},{"name":"c","image":"busybox:1"}]}}}}"#
            let out = try await c.patch(deployPath + "/web", patch, type: strategicType).json()
            let containers = out.at("spec.template.spec.containers")?.arrayValue ?? []
            let images = Dictionary(containers.map { ($0.string("name") ?? "", $0.string("image") ?? "") }, uniquingKeysWith: { a, _ in a })
            #expect(images == ["a": "nginx:1.0", "b": "redis:2.0", "c": "busybox:1"])
            #expect(out.int("metadata.generation") == 2)

            let remove = #"{"spec":{"template":{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}}}"#
            let after = try await c.patch(deployPath + "/web", remove, type: strategicType).json()
            let names = (after.at("spec.template.spec.containers")?.arrayValue ?? []).compactMap { $0.string("name") }
            #expect(Set(names) == ["b", "c"])
            // a merge patch replaces the list instead
            let merged = try await c.patch(deployPath + "/web", #"{"spec":{"template":{"spec":{"containers":[{"name":"z","image":"x:1"}]}}}}"#, type: mergeType).json()
            #expect((merged.at("spec.template.spec.containers")?.arrayValue ?? []).compactMap { $0.string("name") } == ["z"])
        }
    }

    @Test func unknownPatchTypeIsUnsupported() async throws {
        try await TestCluster.with { c in
            try await c.create(cmPath, configMap("cm"))
            await expectAPIError(415, "UnsupportedMediaType") { try await c.patch(cmPath + "/cm", "{}", type: "text/plain") }
        }
    }

    @Test func applyCreatesAndRecordsManagedFields() async throws {
        try await TestCluster.with { c in
            let manifest = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"1"}}"#
            let res = try await c.patch(cmPath + "/cm", manifest, type: applyType, query: [("fieldManager", "tool-a")])
            #expect(res.status == 201)
            let obj = try res.json()
            #expect(obj.string("data.a") == "1")
            #expect(obj.string("metadata.uid") != nil)
            let entries = obj.at("metadata.managedFields")?.arrayValue ?? []
            let entry = try #require(entries.first { $0.string("manager") == "tool-a" })
            #expect(entry.string("operation") == "Apply")
            #expect(entry.string("apiVersion") == "v1")
            #expect(entry.string("fieldsType") == "FieldsV1")
            #expect(entry.at("fieldsV1")?["f:data"]?["f:a"] != nil)
            let stored = try await c.get(cmPath + "/cm")
            #expect(stored.at("metadata.managedFields") == obj.at("metadata.managedFields"))
            #expect(stored.string("metadata.resourceVersion") == obj.string("metadata.resourceVersion"))

            // applying the same again, a second later, changes nothing (the managedFields time stays too)
            try await Task.sleep(for: .milliseconds(1100))
            let again = try await c.patch(cmPath + "/cm", manifest, type: applyType, query: [("fieldManager", "tool-a")])
            #expect(again.status == 200)
            let reapplied = try again.json()
            #expect(reapplied.string("data.a") == "1")
            #expect(reapplied.string("metadata.resourceVersion") == obj.string("metadata.resourceVersion"))
        }
    }

    @Test func applyConflictAndForce() async throws {
        try await TestCluster.with { c in
            let first = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"1","b":"1"}}"#
            try await c.patch(cmPath + "/cm", first, type: applyType, query: [("fieldManager", "tool-a")])
            let second = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"2"}}"#
            let e = await expectAPIError(409, "Conflict") {
                try await c.patch(cmPath + "/cm", second, type: applyType, query: [("fieldManager", "tool-b")])
            }
            let causes = e?.status.details?.causes ?? []
            #expect(causes.count == 1)
            #expect(causes.first?.reason == "FieldManagerConflict")
            #expect(causes.first?.field == ".data.a")
            #expect(causes.first?.message?.contains("tool-a") == true)
            #expect(try await c.get(cmPath + "/cm").string("data.a") == "1")

            let forced = try await c.patch(cmPath + "/cm", second, type: applyType, query: [("fieldManager", "tool-b"), ("force", "true")])
            #expect(forced.status == 200)
            let obj = try forced.json()
            #expect(obj.at("data") == ["a": "2", "b": "1"])
            let entries = obj.at("metadata.managedFields")?.arrayValue ?? []
            let b = try #require(entries.first { $0.string("manager") == "tool-b" })
            #expect(b.string("operation") == "Apply")
            #expect(b.at("fieldsV1")?["f:data"]?["f:a"] != nil)
            let a = try #require(entries.first { $0.string("manager") == "tool-a" })
            #expect(a.at("fieldsV1")?["f:data"]?["f:a"] == nil)
            #expect(a.at("fieldsV1")?["f:data"]?["f:b"] != nil)
        }
    }

    @Test func applyWithoutFieldManagerIsRejected() async throws {
        try await TestCluster.with { c in
            let manifest = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"1"}}"#
            // upstream (ValidatePatchOptions): apply requires fieldManager; none is taken from the user agent
            let e = await expectAPIError(422, "Invalid") { try await c.patch(cmPath + "/cm", manifest, type: applyType) }
            #expect(e?.status.message?.contains("fieldManager: Required value") == true)
            await expectAPIError(404, "NotFound") { try await c.get(cmPath + "/cm") }
        }
    }
}
