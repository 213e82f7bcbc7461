import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdClient
import Testing

@Suite struct ValidationTests {
    private let unknownField = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME"},"bogus":1,"data":{"a":"1"}}"#
    private let duplicateField = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME"},"data":{"a":"1","a":"2"}}"#

    private func post(_ c: TestCluster, _ json: String, name: String, validation: String?) async throws -> APIResponse {
        let body = Array(json.replacingOccurrences(of: "NAME", with: name).utf8)
        return try await c.client.send(.POST, cmPath, query: validation.map { [("fieldValidation", $0)] } ?? [], body: body)
    }

    @Test func strictRejectsUnknownAndDuplicateFields() async throws {
        try await TestCluster.with { c in
            let e1 = await expectAPIError(400, "BadRequest") { try await post(c, unknownField, name: "u", validation: "Strict") }
            #expect(e1?.status.message?.contains(#"strict decoding error: unknown field "bogus""#) == true)
            let e2 = await expectAPIError(400, "BadRequest") { try await post(c, duplicateField, name: "d", validation: "Strict") }
            #expect(e2?.status.message?.contains("duplicate field") == true)
            let stored = try await c.names(cmPath)
            #expect(stored.isEmpty)

            var p = pod("p")
            p["spec"] = ["containers": [["name": "app", "image": "nginx:1", "bogus": true]]]
            let e3 = await expectAPIError(400, "BadRequest") {
                try await c.create(podPath, p, query: [("fieldValidation", "Strict")])
            }
            #expect(e3?.status.message?.contains(#"unknown field "spec.containers[0].bogus""#) == true)
        }
    }

    @Test(arguments: [nil, "Warn"] as [String?])
    func warnAcceptsWithWarnings(validation: String?) async throws {
        try await TestCluster.with { c in
            let res = try await post(c, unknownField, name: "u", validation: validation)
            #expect(res.status == 201)
            #expect(res.warnings.contains { $0.contains(#"unknown field "bogus""#) })
            #expect(try res.json().at("bogus") == nil)
            let dup = try await post(c, duplicateField, name: "d", validation: validation)
            #expect(dup.status == 201)
            #expect(dup.warnings.contains { $0.contains("duplicate field") })
            // the last duplicate wins, as in Go's decoder
            #expect(try await c.get(cmPath + "/d").string("data.a") == "2")
        }
    }

    @Test func ignoreAcceptsSilently() async throws {
        try await TestCluster.with { c in
            let res = try await post(c, unknownField, name: "u", validation: "Ignore")
            #expect(res.status == 201)
            #expect(res.warnings.isEmpty)
            let dup = try await post(c, duplicateField, name: "d", validation: "Ignore")
            #expect(dup.warnings.isEmpty)
            await expectAPIError(400, "BadRequest") { try await post(c, unknownField, name: "x", validation: "Sometimes") }
        }
    }

    @Test func strictAppliesToUpdatesAndPatches() async throws {
        try await TestCluster.with { c in
            var cm = try await c.create(cmPath, configMap("cm"))
            cm["bogus"] = "x"
            await expectAPIError(400, "BadRequest") { try await c.put(cmPath + "/cm", cm, query: [("fieldValidation", "Strict")]) }
            await expectAPIError(400, "BadRequest") {
                try await c.patch(cmPath + "/cm", #"{"bogus":"x"}"#, type: "application/merge-patch+json", query: [("fieldValidation", "Strict")])
            }
            let warned = try await c.patch(cmPath + "/cm", #"{"bogus":"x"}"#, type: "application/merge-patch+json", query: [("fieldValidation", "Warn")])
            #expect(warned.warnings.contains { $0.contains(#"unknown field "bogus""#) })
        }
    }

    @Test func dryRunWritesNothing() async throws {
        try await TestCluster.with { c in
            let res = try await c.client.send(.POST, cmPath, query: [("dryRun", "All")], body: configMap("dry", data: ["a": "1"]).serialized())
            #expect(res.status == 201)
            let obj = try res.json()
            #expect(obj.string("metadata.name") == "dry")
            #expect(obj.string("metadata.uid") != nil)
            #expect(obj.string("metadata.creationTimestamp") != nil)
            await expectAPIError(404, "NotFound") { try await c.get(cmPath + "/dry") }

            let real = try await c.create(cmPath, configMap("real", data: ["a": "1"]))
            var changed = real
            changed["data"] = ["a": "2"]
            let dryPut = try await c.put(cmPath + "/real", changed, query: [("dryRun", "All")])
            #expect(dryPut.string("data.a") == "2")
            try await c.patch(cmPath + "/real", #"{"data":{"a":"3"}}"#, type: "application/merge-patch+json", query: [("dryRun", "All")])
            let stored = try await c.get(cmPath + "/real")
            #expect(stored.string("data.a") == "1")
            #expect(stored.string("metadata.resourceVersion") == real.string("metadata.resourceVersion"))
            await expectAPIError(400, "BadRequest") { try await c.create(cmPath, configMap("x"), query: [("dryRun", "Some")]) }
        }
    }

    @Test func invalidObjectsAreRejectedWith422() async throws {
        try await TestCluster.with { c in
            let e = await expectAPIError(422, "Invalid") { try await c.create(cmPath, configMap("Not_A_Name")) }
            #expect(e?.status.details?.kind == "ConfigMap")
            #expect(e?.status.details?.causes?.first?.field == "metadata.name")
            await expectAPIError(422, "Invalid") {
                try await c.create(podPath, ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"], "spec": ["containers": []]])
            }
            await expectAPIError(400, "BadRequest") {
                try await c.create(cmPath, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "x"]])
            }
        }
    }
}
