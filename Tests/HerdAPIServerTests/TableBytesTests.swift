import Foundation
import HerdAPI
@testable import HerdAPIServer
import HerdStore
import Hummingbird
import Logging
import Testing

/// The Table of a list is written from cached bytes and row templates; it must be the document the
/// JSONValue route builds, byte for byte, for every includeObject and at any time.
@Suite struct TableBytesTests {
    let core = APIServerCore(store: MemoryStore(), registry: KindRegistry(BuiltinKinds.all),
                             configuration: APIServerConfiguration(), logger: Logger(label: "test"))

    func check(plural: String, group: String = "", version: String = "v1", _ objects: [JSONValue]) throws {
        let kind = try #require(core.registry.lookup(group: group, version: version, plural: plural))
        let r = ResourcePath(kind: kind, namespace: nil, name: nil, subresource: nil, legacyWatch: false)
        let items = objects.enumerated().compactMap { i, o in
            CachedObject(key: kind.info.storePrefix + "k\(i)", stored: o.serialized(), revision: Int64(10 + i), kind: kind)
        }
        #expect(items.count == objects.count)
        let responder = HerdResponder(core: core)
        let meta = ListMeta(resourceVersion: "42")
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        for include in [nil, "None", "Object", "Metadata"] {
            let query = Query(include.map { "includeObject=\($0)" })
            for offset in [-10.0, 5, 300, 90_000] {
                let now = created.addingTimeInterval(offset)
                // twice: the second time every row comes from its template
                for _ in 0..<2 {
                    let bytes = Array(responder.tableBuffer(r, items: items, meta: meta, query: query, now: now).readableBytesView)
                    let expected = responder.table(r, objects: items.compactMap(\.json), meta: meta, query: query,
                                                   columns: true, now: now).serialized()
                    #expect(String(decoding: bytes, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
                }
            }
        }
    }

    @Test func podsNamespacesAndJobs() throws {
        let running: JSONValue = [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": "web", "namespace": "default", "uid": "u1", "creationTimestamp": "2023-11-14T22:13:20Z",
                         "labels": ["app": "web"], "annotations": ["note": "<&>"]],
            "spec": ["containers": [["name": "a", "image": "nginx"]], "nodeName": "n1"],
            "status": ["phase": "Running", "containerStatuses": [[
                "name": "a", "ready": true, "restartCount": 3, "state": ["running": [:]],
                "lastState": ["terminated": ["exitCode": 1, "finishedAt": "2023-11-14T22:14:00Z"]]]]],
        ]
        let pending: JSONValue = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p2", "namespace": "default"],
                                  "spec": ["containers": [["name": "a"]]], "status": ["phase": "Pending"]]
        try check(plural: "pods", [running, pending])
        try check(plural: "pods", [])
        try check(plural: "namespaces", [["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "n", "creationTimestamp": "2023-11-14T22:13:20Z"],
                                          "status": ["phase": "Active"]]])
        try check(plural: "jobs", group: "batch", [["apiVersion": "batch/v1", "kind": "Job",
                                                    "metadata": ["name": "j", "namespace": "d", "creationTimestamp": "2023-11-14T22:13:20Z"],
                                                    "status": ["startTime": "2023-11-14T22:13:30Z"]]])
    }

    /// What a write hands the watch cache must be what the cache would make of the stored value.
    @Test func writtenObjectIsWhatTheStoreValueGives() throws {
        let kind = try #require(core.registry.lookup(group: "", version: "v1", plural: "pods"))
        let objects: [JSONValue] = [
            ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "a", "namespace": "d", "labels": ["x": "y"], "uid": "u"],
             "spec": ["nodeName": "n", "containers": [["name": "c"]]], "status": ["phase": "Running"]],
            ["apiVersion": "v1", "kind": "Pod", "metadata": ["zz": "last", "name": "b"], "spec": [:]],
            ["apiVersion": "v1", "kind": "Pod", "metadata": [:]],
        ]
        for o in objects {
            let normalized = try kind.normalize(o, old: nil)
            let stored = normalized.object.serialized()
            var written = normalized.object
            written.setMeta("resourceVersion", .string("123"))
            let fromWrite = CachedObject(key: "/registry/pods/d/a", written: written, stored: stored, revision: 123,
                                         ownFields: normalized.ownFields, row: normalized.row, kind: kind)
            let fromStore = try #require(CachedObject(key: "/registry/pods/d/a", stored: stored, revision: 123, kind: kind))
            #expect(String(decoding: fromWrite.bytes, as: UTF8.self) == String(decoding: fromStore.bytes, as: UTF8.self))
            #expect(fromWrite.labels == fromStore.labels)
            #expect(fromWrite.fields == fromStore.fields)
            #expect(fromWrite.name == fromStore.name && fromWrite.namespace == fromStore.namespace)
            #expect(fromWrite.metadataSpan == fromStore.metadataSpan)
        }
    }
}
