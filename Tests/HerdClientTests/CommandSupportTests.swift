import HerdAPI
import Foundation
import Testing
@testable import HerdClient

@Suite struct LabelArgumentTests {
    @Test func parsesSetsAndRemovals() throws {
        let c = try MetadataChanges.parse(["app=web", "tier=", "old-"], labels: true)
        #expect(c.set.map(\.key) == ["app", "tier"])
        #expect(c.set.map(\.value) == ["web", ""])
        #expect(c.remove == ["old"])
    }

    @Test func rejectsBadLabels() {
        #expect(throws: CommandError.self) { try MetadataChanges.parse(["a=b=c"], labels: true) }
        #expect(throws: CommandError.self) { try MetadataChanges.parse(["bad key=x"], labels: true) }
        #expect(throws: CommandError.self) { try MetadataChanges.parse(["app=-web"], labels: true) }
        #expect(throws: CommandError.self) { try MetadataChanges.parse(["app=x", "app-"], labels: true) }
        // Annotation values are free text.
        #expect((try? MetadataChanges.parse(["note=hello world=1"], labels: false)) != nil)
    }

    @Test func overwriteIsRequiredToChangeAValue() throws {
        let c = try MetadataChanges.parse(["app=api"], labels: true)
        do {
            _ = try c.mergePatch(field: "labels", current: ["app": "web"], overwrite: false, resourceVersion: nil)
            Issue.record("expected an error")
        } catch let e as CommandError {
            #expect(e.message == "'app' already has a value (web), and --overwrite is false")
        }
        let patch = try c.mergePatch(field: "labels", current: ["app": "web"], overwrite: true, resourceVersion: "7")
        #expect(patch == ["metadata": ["labels": ["app": "api"], "resourceVersion": "7"]])
    }

    @Test func unchangedAndRemovalPatches() throws {
        let same = try MetadataChanges.parse(["app=web"], labels: true)
        #expect(try same.mergePatch(field: "labels", current: ["app": "web"], overwrite: false, resourceVersion: nil) == nil)
        let rm = try MetadataChanges.parse(["app-", "absent-"], labels: true)
        #expect(try rm.mergePatch(field: "labels", current: ["app": "web"], overwrite: false, resourceVersion: nil)
                == ["metadata": ["labels": ["app": nil]]])
    }

    @Test func changeArgumentsAreRecognised() {
        #expect(MetadataChanges.isChange("a=b"))
        #expect(MetadataChanges.isChange("a-"))
        #expect(!MetadataChanges.isChange("pod/web"))
        #expect(!MetadataChanges.isChange("pods"))
    }
}

@Suite struct ResourceArgumentTests {
    @Test func typeAndNames() throws {
        #expect(try ResourceArgument.parse(["po,svc", "a", "b"]) == [
            ResourceArgument(type: "po", names: ["a", "b"]), ResourceArgument(type: "svc", names: ["a", "b"])])
        #expect(try ResourceArgument.parse(["pods"]) == [ResourceArgument(type: "pods", names: [])])
    }

    @Test func slashForm() throws {
        #expect(try ResourceArgument.parse(["pod/a", "pod/b", "deploy/web"]) == [
            ResourceArgument(type: "pod", names: ["a", "b"]), ResourceArgument(type: "deploy", names: ["web"])])
        #expect(throws: CommandError.self) { try ResourceArgument.parse(["pod", "pod/a"]) }
    }
}

@Suite struct ApplyTests {
    @Test func documentsAreFlattened() {
        let docs: [JSONValue] = [
            ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "a"]],
            .null,
            [:],
            ["apiVersion": "v1", "kind": "List", "items": [
                ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c1"]],
                ["apiVersion": "v1", "kind": "ConfigMapList", "items": [["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c2"]]]],
            ]],
        ]
        let names = Manifests.objects(docs).compactMap { $0["metadata"]?["name"]?.stringValue }
        #expect(names == ["a", "c1", "c2"])
    }

    @Test func directoriesAreWalkedRecursively() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("herd-manifests-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        for f in ["b.yaml", "a.json", "notes.txt", "sub/c.yml"] {
            _ = FileManager.default.createFile(atPath: dir + "/" + f, contents: Data("{}".utf8))
        }
        let files = try Manifests.files(dir).map { String($0.dropFirst(dir.count + 1)) }
        #expect(files == ["a.json", "b.yaml", "sub/c.yml"])
        #expect(throws: CommandError.self) { try Manifests.files(dir + "/missing") }
        #expect(try Manifests.files("-") == ["-"])
    }

    @Test func outcomeWording() {
        let before: JSONValue = ["metadata": ["resourceVersion": "5"]]
        let same: JSONValue = ["metadata": ["resourceVersion": "5"]]
        let changed: JSONValue = ["metadata": ["resourceVersion": "6"], "spec": ["replicas": 3]]
        // only status and bookkeeping moved (a controller wrote between the read and the apply)
        let statusOnly: JSONValue = ["metadata": ["resourceVersion": "7"], "status": ["replicas": 1]]
        #expect(ApplyOutcome.decide(before: nil, after: changed, serverSide: false).rawValue == "created")
        #expect(ApplyOutcome.decide(before: before, after: same, serverSide: false).rawValue == "unchanged")
        #expect(ApplyOutcome.decide(before: before, after: changed, serverSide: false).rawValue == "configured")
        #expect(ApplyOutcome.decide(before: before, after: statusOnly, serverSide: false).rawValue == "unchanged")
        #expect(ApplyOutcome.decide(before: before, after: changed, serverSide: true).rawValue == "serverside-applied")
    }
}
