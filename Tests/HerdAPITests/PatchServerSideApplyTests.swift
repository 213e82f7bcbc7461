import Foundation
import Testing
@testable import HerdAPI

@Suite struct FieldSetTests {
    let deployment = PatchSchema.forKind(group: "apps", kind: "Deployment") ?? .any

    @Test func configMapMatchesUpstreamDocSample() throws {
        // kubernetes.io "Server-Side Apply" page: a ConfigMap applied by kubectl.
        let cm = try patchJSON(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"test-cm","namespace":"default","labels":{"test-label":"test"}},"data":{"key":"some value"}}"#)
        let ignore = ServerSideApply.IgnoredFields(subresource: nil, hasStatusSubresource: false)
        let set = ignore.filter(FieldSet(of: cm, schema: PatchSchema.forKind(group: "", kind: "ConfigMap") ?? .any))
        #expect(set.fieldsV1 == (try patchJSON(#"{"f:metadata":{"f:labels":{"f:test-label":{}}},"f:data":{"f:key":{}}}"#)))
    }

    @Test func associativeListItemsAreKeyedAndMembers() throws {
        let obj = try patchJSON(#"""
        {"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
         "spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}],"resources":{}}]}}}}
        """#)
        let set = FieldSet(of: obj, schema: deployment)
        #expect(set.fieldsV1 == (try patchJSON(#"""
        {"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},
         "f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},"f:resources":{},
           "f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}
        """#)))
        #expect(set.sorted.map(\.description).contains(#".spec.template.spec.containers[name="web"].image"#))
        #expect(set.contains(FieldPath([.field("spec"), .field("template"), .field("spec"), .field("containers"),
                                        .key([.init("name", "web")]), .field("ports"),
                                        .key([.init("containerPort", 80), .init("protocol", "TCP")])])))
    }

    @Test func setItemsUseValueKeysAndRoundTrip() throws {
        let obj = try patchJSON(#"{"metadata":{"finalizers":["a/b","c"],"ownerReferences":[{"uid":"u1","name":"rs"}]}}"#)
        let set = FieldSet(of: obj, schema: .object(fields: ["metadata": .objectMeta]))
        #expect(set.fieldsV1 == (try patchJSON(#"{"f:metadata":{"f:finalizers":{"v:\"a/b\"":{},"v:\"c\"":{}},"f:ownerReferences":{"k:{\"uid\":\"u1\"}":{".":{},"f:name":{},"f:uid":{}}}}}"#)))
        #expect(set.sorted.map(\.description).contains(#".metadata.finalizers[="a/b"]"#))
        #expect(try FieldSet(fieldsV1: set.fieldsV1) == set)
    }

    @Test func decodesUpstreamManagedFields() throws {
        let v1 = try patchJSON(#"{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}},"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{},"f:targetPort":{}}},"f:clusterIPs":{},"f:x":{"i:0":{}}}}"#)
        let set = try FieldSet(fieldsV1: v1)
        #expect(Set(set.paths.map(\.description)) == [
            ".metadata.annotations", ".metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
            #".spec.ports[port=80,protocol="TCP"]"#, #".spec.ports[port=80,protocol="TCP"].port"#,
            #".spec.ports[port=80,protocol="TCP"].targetPort"#, ".spec.clusterIPs", ".spec.x[0]",
        ])
        #expect(set.fieldsV1 == v1)
        #expect(throws: PatchError.self) { try FieldSet(fieldsV1: try patchJSON(#"{"x:y":{}}"#)) }
        #expect(throws: PatchError.self) { try FieldSet(fieldsV1: try patchJSON(#"{"f:a":1}"#)) }
    }

    @Test func keyTextIsGoJSON() {
        #expect(PathElement.key([.init("name", "a<b>&")]).fieldsV1Key == #"k:{"name":"a\u003cb\u003e\u0026"}"#)
        #expect(PathElement(fieldsV1Key: #"k:{"port":80,"protocol":"TCP"}"#) == .key([.init("port", 80), .init("protocol", "TCP")]))
    }
}

@Suite struct ServerSideApplyTests {
    let schema = PatchSchema.forKind(group: "apps", kind: "Deployment") ?? .any
    let t0 = Time(Date(timeIntervalSince1970: 1_700_000_000))
    let t1 = Time(Date(timeIntervalSince1970: 1_700_000_100))

    func deploy(replicas: Int? = nil, image: String? = "nginx:1", labels: String = #"{"app":"web"}"#) throws -> JSONValue {
        var spec = #""template":{"metadata":{"labels":\#(labels)},"spec":{"containers":[{"name":"web"\#(image.map { #","image":"\#($0)""# } ?? "")}]}}"#
        if let replicas { spec = #""replicas":\#(replicas),"# + spec }
        return try patchJSON(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"default"},"spec":{\#(spec)}}"#)
    }

    func apply(_ current: JSONValue?, _ applied: JSONValue, manager: String = "kubectl", force: Bool = false,
               managed: [ManagedFieldsEntry] = [], at time: Time? = nil) throws(ApplyError) -> (object: JSONValue, managedFields: [ManagedFieldsEntry]) {
        try ServerSideApply.apply(current: current, applied: applied, manager: manager, force: force, managedFields: managed,
                                  schema: schema, apiVersion: "apps/v1", now: time ?? t0, hasStatusSubresource: true)
    }

    func owned(_ entries: [ManagedFieldsEntry], _ manager: String) throws -> Set<String> {
        guard let e = entries.first(where: { $0.manager == manager }) else { return [] }
        return Set(try FieldSet(fieldsV1: e.fieldsV1 ?? .object([:])).paths.map(\.description))
    }

    @Test func applyCreates() throws {
        let cfg = try deploy(replicas: 2)
        let (obj, managed) = try apply(nil, cfg)
        #expect(obj == cfg)
        #expect(managed.count == 1)
        #expect(managed[0].manager == "kubectl")
        #expect(managed[0].operation == "Apply")
        #expect(managed[0].apiVersion == "apps/v1")
        #expect(managed[0].time == t0)
        #expect(managed[0].fieldsType == "FieldsV1")
        #expect(managed[0].fieldsV1 == (try patchJSON(#"""
        {"f:spec":{"f:replicas":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}
        """#)))
    }

    @Test func applyTwiceWithChangedField() throws {
        let first = try apply(nil, try deploy(replicas: 2))
        let second = try apply(first.object, try deploy(replicas: 5, image: "nginx:2"), managed: first.managedFields, at: t1)
        #expect(second.object["spec"]?["replicas"] == 5)
        #expect(second.object[path: ["spec", "template", "spec"]]?["containers"] == (try patchJSON(#"[{"name":"web","image":"nginx:2"}]"#)))
        #expect(second.managedFields.count == 1)
        #expect(second.managedFields[0].time == t1)
    }

    @Test func droppingAFieldFromTheConfigRemovesIt() throws {
        let first = try apply(nil, try deploy(replicas: 2, labels: #"{"app":"web","tier":"fe"}"#))
        let second = try apply(first.object, try deploy(labels: #"{"app":"web"}"#), managed: first.managedFields)
        #expect(second.object["spec"]?["replicas"] == nil)
        #expect(second.object[path: ["spec", "template", "metadata", "labels"]] == ["app": "web"])
        #expect(try owned(second.managedFields, "kubectl").contains(".spec.replicas") == false)
    }

    @Test func droppedFieldStaysWhenAnotherManagerOwnsIt() throws {
        let first = try apply(nil, try deploy(replicas: 2))
        // Another applier sets the same value: both own it.
        let shared = try apply(first.object, try patchJSON(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":2}}"#),
                               manager: "hpa", managed: first.managedFields)
        #expect(try owned(shared.managedFields, "hpa") == [".spec.replicas"])
        #expect(try owned(shared.managedFields, "kubectl").contains(".spec.replicas"))
        let third = try apply(shared.object, try deploy(), managed: shared.managedFields)
        #expect(third.object["spec"]?["replicas"] == 2)
        #expect(try owned(third.managedFields, "kubectl").contains(".spec.replicas") == false)
    }

    @Test func conflictWithUpdaterThenForce() throws {
        // kubectl create (an Update) owns everything it set.
        let created = try deploy(replicas: 1)
        let managed = ServerSideApply.updateManagedFields(old: nil, new: created, manager: "kubectl-client-side-apply",
                                                          managedFields: [], schema: schema, apiVersion: "apps/v1", now: t0)
        #expect(managed.count == 1)
        #expect(managed[0].operation == "Update")
        #expect(try owned(managed, "kubectl-client-side-apply").contains(".spec.replicas"))

        let err = #expect(throws: ApplyError.self) { try apply(created, try deploy(replicas: 3), managed: managed) }
        guard case .conflicts(let conflicts)? = err else {
            Issue.record("expected conflicts, got \(String(describing: err))")
            return
        }
        #expect(conflicts.map(\.field) == [".spec.replicas"])
        #expect(conflicts[0].manager == "kubectl-client-side-apply")
        #expect(conflicts[0].causeMessage == #"conflict with "kubectl-client-side-apply" using apps/v1 at 2023-11-14T22:13:20Z"#)
        #expect(err?.message == #"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1 at 2023-11-14T22:13:20Z: .spec.replicas"#)

        // Applying the same values is no conflict.
        #expect(throws: Never.self) { try apply(created, try deploy(replicas: 1), managed: managed) }

        let forced = try apply(created, try deploy(replicas: 3), force: true, managed: managed, at: t1)
        #expect(forced.object["spec"]?["replicas"] == 3)
        #expect(try owned(forced.managedFields, "kubectl").contains(".spec.replicas"))
        #expect(try owned(forced.managedFields, "kubectl-client-side-apply").contains(".spec.replicas") == false)
        #expect(try owned(forced.managedFields, "kubectl-client-side-apply").contains(#".spec.template.spec.containers[name="web"].image"#))
        // Sorted like upstream: Apply entries before Update entries.
        #expect(forced.managedFields.map(\.operation) == ["Apply", "Update"])
    }

    @Test func severalConflictsAreGroupedByManager() throws {
        let created = try deploy(replicas: 1)
        let managed = ServerSideApply.updateManagedFields(old: nil, new: created, manager: "editor", managedFields: [], schema: schema,
                                                          apiVersion: "apps/v1", now: t0, subresource: nil)
        let other = try apply(created, try patchJSON(#"{"metadata":{"name":"d"},"spec":{"template":{"metadata":{"labels":{"app":"web"}}}}}"#), manager: "other", managed: managed)
        let err = #expect(throws: ApplyError.self) {
            try apply(other.object, try deploy(replicas: 4, image: "nginx:9", labels: #"{"app":"api"}"#), managed: other.managedFields)
        }
        #expect(err?.message == """
            Apply failed with 4 conflicts: conflicts with "editor" using apps/v1 at 2023-11-14T22:13:20Z:
            - .spec.replicas
            - .spec.template.metadata.labels.app
            - .spec.template.spec.containers[name="web"].image
            conflicts with "other":
            - .spec.template.metadata.labels.app
            """)
    }

    @Test func listMapItemsFromTwoManagersMergeByKey() throws {
        let a = try apply(nil, try deploy(replicas: 1), manager: "team-a")
        let sidecar = try patchJSON(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"log","image":"busybox"}]}}}}"#)
        let b = try apply(a.object, sidecar, manager: "team-b", managed: a.managedFields)
        #expect(b.object[path: ["spec", "template", "spec"]]?["containers"]
            == (try patchJSON(#"[{"name":"web","image":"nginx:1"},{"name":"log","image":"busybox"}]"#)))
        #expect(try owned(b.managedFields, "team-b") == [#".spec.template.spec.containers[name="log"]"#,
                                                         #".spec.template.spec.containers[name="log"].name"#,
                                                         #".spec.template.spec.containers[name="log"].image"#])
        // team-b touching team-a's container image conflicts on the keyed path.
        let clash = try patchJSON(#"{"metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"log","image":"busybox"},{"name":"web","image":"nginx:2"}]}}}}"#)
        let err = #expect(throws: ApplyError.self) { try apply(b.object, clash, manager: "team-b", managed: b.managedFields) }
        guard case .conflicts(let c)? = err else { Issue.record("no conflict"); return }
        #expect(c.map(\.field) == [#".spec.template.spec.containers[name="web"].image"#])
        #expect(c.map(\.manager) == ["team-a"])
        // team-a dropping its container removes it, leaving team-b's.
        let aOnly = try patchJSON(#"{"metadata":{"name":"d"},"spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"web"}}}}}"#)
        let dropped = try apply(b.object, aOnly, manager: "team-a", managed: b.managedFields)
        #expect(dropped.object[path: ["spec", "template", "spec"]]?["containers"] == (try patchJSON(#"[{"name":"log","image":"busybox"}]"#)))
    }

    @Test func updateMovesChangedFieldsAndDropsEmptyEntries() throws {
        let created = try deploy(replicas: 1)
        var managed = ServerSideApply.updateManagedFields(old: nil, new: created, manager: "creator", managedFields: [], schema: schema,
                                                          apiVersion: "apps/v1", now: t0)
        var scaled = created
        scaled["spec"]?["replicas"] = 4
        scaled["status"] = ["replicas": 4]
        managed = ServerSideApply.updateManagedFields(old: created, new: scaled, manager: "scaler", managedFields: managed, schema: schema,
                                                      apiVersion: "apps/v1", now: t1, hasStatusSubresource: true)
        #expect(try owned(managed, "scaler") == [".spec.replicas"])
        #expect(try owned(managed, "creator").contains(".spec.replicas") == false)
        #expect(managed.first { $0.manager == "scaler" }?.time == t1)
        #expect(managed.first { $0.manager == "creator" }?.time == t0)

        // The creator writing the same value back takes nothing; the scaler keeps it.
        let same = ServerSideApply.updateManagedFields(old: scaled, new: scaled, manager: "creator", managedFields: managed, schema: schema,
                                                       apiVersion: "apps/v1", now: t1, hasStatusSubresource: true)
        #expect(try owned(same, "scaler") == [".spec.replicas"])

        // A manager that loses all its fields disappears.
        var rescaled = scaled
        rescaled["spec"]?["replicas"] = 7
        let final = ServerSideApply.updateManagedFields(old: scaled, new: rescaled, manager: "creator", managedFields: managed,
                                                        schema: schema, apiVersion: "apps/v1", now: t1, hasStatusSubresource: true)
        #expect(final.contains { $0.manager == "scaler" } == false)
        #expect(final.count == 1)
    }

    @Test func statusSubresourceWritesTrackOnlyStatus() throws {
        let created = try deploy(replicas: 1)
        var withStatus = created
        withStatus["status"] = try patchJSON(#"{"replicas":1,"conditions":[{"type":"Available","status":"True"}]}"#)
        withStatus["spec"]?["replicas"] = 9
        let managed = ServerSideApply.updateManagedFields(old: created, new: withStatus, manager: "controller", managedFields: [],
                                                          schema: schema, apiVersion: "apps/v1", now: t0, subresource: "status",
                                                          hasStatusSubresource: true)
        #expect(managed.first?.subresource == "status")
        #expect(try owned(managed, "controller") == [".status.replicas", #".status.conditions[type="Available"]"#,
                                                      #".status.conditions[type="Available"].type"#,
                                                      #".status.conditions[type="Available"].status"#])
    }

    @Test func applyToMainResourceLeavesStatusAlone() throws {
        var live = try deploy(replicas: 1)
        live["status"] = ["replicas": 1]
        let created = try apply(nil, try deploy(replicas: 1))
        var cfg = try deploy(replicas: 1)
        cfg["status"] = ["replicas": 50]
        let out = try apply(live, cfg, managed: created.managedFields)
        #expect(out.object["status"] == ["replicas": 1])
        #expect(try owned(out.managedFields, "kubectl").allSatisfy { !$0.hasPrefix(".status") })
    }

    @Test func updateManagersAreCappedIntoAncientChanges() throws {
        var obj = try deploy(replicas: 0)
        var managed: [ManagedFieldsEntry] = []
        for i in 1...12 {
            var next = obj
            next["metadata"]?["labels"] = .object(["l\(i)": "x"].merging(obj["metadata"]?["labels"]?.objectValue ?? [:]) { a, _ in a })
            managed = ServerSideApply.updateManagedFields(old: i == 1 ? nil : obj, new: next, manager: "writer-\(i)", managedFields: managed,
                                                          schema: schema, apiVersion: "apps/v1",
                                                          now: Time(Date(timeIntervalSince1970: 1_700_000_000 + Double(i))))
            obj = next
        }
        #expect(managed.count == ServerSideApply.maxUpdateManagers)
        let ancient = try owned(managed, "ancient-changes")
        #expect(ancient.contains(".metadata.labels.l1") && ancient.contains(".metadata.labels.l2") && ancient.contains(".spec.replicas"))
        #expect(managed.contains { $0.manager == "writer-12" })
        #expect(managed.contains { $0.manager == "writer-1" } == false)
    }

    @Test func identityMetadataIsNotTracked() throws {
        let obj = try patchJSON(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n","uid":"u","resourceVersion":"5","generation":1,"creationTimestamp":"2024-01-01T00:00:00Z","labels":{"a":"b"}},"data":{"k":"v"}}"#)
        let managed = ServerSideApply.updateManagedFields(old: nil, new: obj, manager: "kubectl-create", managedFields: [],
                                                          schema: PatchSchema.forKind(group: "", kind: "ConfigMap") ?? .any,
                                                          apiVersion: "v1", now: t0)
        // Maps created by an Update are owned themselves, as in upstream's `{"f:labels":{".":{},...}}`.
        #expect(managed.first?.fieldsV1 == (try patchJSON(#"{"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:data":{".":{},"f:k":{}}}"#)))
    }

    @Test func firstApplyOnUnmanagedObjectConflictsWithBeforeFirstApply() throws {
        let live = try deploy(replicas: 1)
        let err = #expect(throws: ApplyError.self) { try apply(live, try deploy(replicas: 2), managed: []) }
        guard case .conflicts(let c)? = err else { Issue.record("no conflict"); return }
        #expect(c.map(\.manager) == ["before-first-apply"])
        #expect(c.map(\.field) == [".spec.replicas"])
    }

    @Test func setListsUnionAcrossAppliers() throws {
        let cmSchema = PatchSchema.forKind(group: "", kind: "ConfigMap") ?? .any
        let a = try ServerSideApply.apply(current: nil, applied: try patchJSON(#"{"metadata":{"name":"c","finalizers":["x"]}}"#), manager: "a",
                                          force: false, managedFields: [], schema: cmSchema, apiVersion: "v1", now: t0)
        let b = try ServerSideApply.apply(current: a.object, applied: try patchJSON(#"{"metadata":{"name":"c","finalizers":["y"]}}"#), manager: "b",
                                          force: false, managedFields: a.managedFields, schema: cmSchema, apiVersion: "v1", now: t0)
        #expect(b.object["metadata"]?["finalizers"] == ["x", "y"])
        let aGone = try ServerSideApply.apply(current: b.object, applied: try patchJSON(#"{"metadata":{"name":"c"}}"#), manager: "a",
                                              force: false, managedFields: b.managedFields, schema: cmSchema, apiVersion: "v1", now: t0)
        #expect(aGone.object["metadata"]?["finalizers"] == ["y"])
        #expect(aGone.managedFields.map(\.manager) == ["b"])
    }

    @Test func associativeListKeysAreValidated() throws {
        let dup = try patchJSON(#"{"spec":{"template":{"spec":{"containers":[{"name":"a"},{"name":"a","image":"x"}]}}}}"#)
        let e1 = #expect(throws: ApplyError.self) { try apply(nil, dup) }
        #expect(e1?.message == #".spec.template.spec.containers: duplicate entries for key [name="a"]"#)
        let noKey = try patchJSON(#"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#)
        let e2 = #expect(throws: ApplyError.self) { try apply(nil, noKey) }
        #expect(e2?.message == #".spec.template.spec.containers: associative list with keys has an element that omits key field "name" (and doesn't have default value)"#)
        // A port's protocol has a default, so omitting it is fine and matches the TCP item.
        let ports = try patchJSON(#"{"spec":{"template":{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80},{"containerPort":80,"protocol":"UDP"}]}]}}}}"#)
        #expect(throws: Never.self) { try apply(nil, ports) }
    }

    @Test func invalidInputIsAnErrorNotATrap() throws {
        #expect(throws: ApplyError.self) { try apply(nil, JSONValue.array(["a", "b"])) }
        let bad = [ManagedFieldsEntry(manager: "m", operation: "Update", fieldsType: "FieldsV1", fieldsV1: ["f:x": 1])]
        #expect(throws: ApplyError.self) { try apply(try deploy(), try deploy(), managed: bad) }
        // Ordinary writes start over instead of failing on undecodable managed fields.
        let reset = ServerSideApply.updateManagedFields(old: nil, new: try deploy(), manager: "w", managedFields: bad, schema: schema,
                                                        apiVersion: "apps/v1", now: t0)
        #expect(reset.map(\.manager) == ["w"])
    }
}
