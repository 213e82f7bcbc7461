import Foundation
import Testing
@testable import HerdAPI

/// The shortcuts of an ordinary write's managed-fields bookkeeping (comparing only the subtrees that differ,
/// editing the entries' fieldsV1 trees in place) must give exactly what the general route gives: walking both
/// versions whole, and decoding, moving and encoding every manager's set of paths.
@Suite struct ManagedFieldsEditTests {
    let schema = PatchSchema.forKind(group: "", kind: "Pod") ?? .any

    func time(_ s: Int) -> Time { Time(Date(timeIntervalSince1970: 1_700_000_000 + Double(s))) }

    /// Every path each version records, compared one by one (the definition the shortcut must match).
    func walkedChange(_ old: JSONValue, _ new: JSONValue, _ ignore: ServerSideApply.IgnoredFields) -> ServerSideApply.Change {
        var a: [FieldPath: JSONValue?] = [:]
        var b: [FieldPath: JSONValue?] = [:]
        FieldWalker.walk(old, schema, FieldPath([]), &a, includeMaps: true)
        FieldWalker.walk(new, schema, FieldPath([]), &b, includeMaps: true)
        var c = ServerSideApply.Change()
        for (p, nv) in b where !ignore.ignores(p) {
            if let ov = a[p] { if ov != nv { c.modified.paths.insert(p) } } else { c.added.paths.insert(p) }
        }
        for p in a.keys where b[p] == nil && !ignore.ignores(p) { c.removed.paths.insert(p) }
        return c
    }

    /// One write by `manager`: both routes from the same entries; returns the entries for the next step.
    func step(_ old: JSONValue?, _ new: String, manager: String, subresource: String? = nil, entries: [ManagedFieldsEntry],
              at t: Int) throws -> [ManagedFieldsEntry] {
        let obj = try patchJSON(new)
        let ignore = ServerSideApply.IgnoredFields(subresource: subresource, hasStatusSubresource: true)
        if let old {
            let fast = ServerSideApply.compare(old, obj, schema, ignore)
            let walked = walkedChange(old, obj, ignore)
            #expect(fast.added == walked.added, "added, step \(t)")
            #expect(fast.removed == walked.removed, "removed, step \(t)")
            #expect(fast.modified == walked.modified, "modified, step \(t)")
        }
        let args = (old: old, new: obj)
        let edited = ServerSideApply.updateManagedFieldsByComparing(
            old: args.old, new: args.new, manager: manager, operation: "Update", managedFields: entries, schema: schema,
            apiVersion: "v1", now: time(t), subresource: subresource, ignore: ignore)
        let general = ServerSideApply.updateManagedFieldsByComparing(
            old: args.old, new: args.new, manager: manager, operation: "Update", managedFields: entries, schema: schema,
            apiVersion: "v1", now: time(t), subresource: subresource, ignore: ignore, editInPlace: false)
        #expect(edited.count == general.count, "entries, step \(t)")
        for (e, g) in zip(edited, general) {
            #expect(e.manager == g.manager && e.time == g.time && e.subresource == g.subresource, "entry, step \(t)")
            // the same sets, whatever the key order of the trees
            #expect(try FieldSet(fieldsV1: e.fieldsV1 ?? .object([:])) == FieldSet(fieldsV1: g.fieldsV1 ?? .object([:])),
                    "fields of \(e.manager ?? ""), step \(t)")
        }
        return edited
    }

    @Test func aPodsLifeOfWrites() throws {
        let created = #"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","labels":{"app":"web"}},
         "spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}],
          "restartPolicy":"Always"},"status":{"phase":"Pending"}}
        """#
        var entries = try step(nil, created, manager: "kubectl", entries: [], at: 0)
        var old = try patchJSON(created)
        // the scheduler binds: spec.nodeName and a condition
        let bound = #"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","labels":{"app":"web"}},
         "spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}],
          "restartPolicy":"Always","nodeName":"n1"},
         "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"}]}}
        """#
        entries = try step(old, bound, manager: "scheduler", entries: entries, at: 1)
        old = try patchJSON(bound)
        // the node reports status
        let running = #"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","labels":{"app":"web"}},
         "spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}],
          "restartPolicy":"Always","nodeName":"n1"},
         "status":{"phase":"Running","podIP":"10.0.0.2","conditions":[{"type":"PodScheduled","status":"True"},
          {"type":"Ready","status":"True"}],"containerStatuses":[{"name":"web","ready":true,"restartCount":0}]}}
        """#
        entries = try step(old, running, manager: "agent", subresource: "status", entries: entries, at: 2)
        old = try patchJSON(running)
        // kubectl takes a label away, adds an annotation and a container, changes an env value
        let edited = #"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","annotations":{"x":"y"}},
         "spec":{"containers":[{"name":"web","image":"nginx:2","ports":[{"containerPort":80}],"env":[{"name":"A","value":"2"}]},
          {"name":"side","image":"busybox"}],"restartPolicy":"Always","nodeName":"n1"},
         "status":{"phase":"Running","podIP":"10.0.0.2","conditions":[{"type":"PodScheduled","status":"True"},
          {"type":"Ready","status":"True"}],"containerStatuses":[{"name":"web","ready":true,"restartCount":0}]}}
        """#
        entries = try step(old, edited, manager: "kubectl", entries: entries, at: 3)
        old = try patchJSON(edited)
        // another manager takes the image the first one set, and empties what the scheduler set
        let taken = #"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","annotations":{"x":"y"},"labels":{}},
         "spec":{"containers":[{"name":"web","image":"nginx:3","ports":[{"containerPort":80}],"env":[{"name":"A","value":"2"}]},
          {"name":"side","image":"busybox"}],"restartPolicy":"Always","nodeName":"n2"},
         "status":{"phase":"Running","podIP":"10.0.0.2","conditions":[{"type":"PodScheduled","status":"True"},
          {"type":"Ready","status":"True"}],"containerStatuses":[{"name":"web","ready":true,"restartCount":0}]}}
        """#
        entries = try step(old, taken, manager: "other", entries: entries, at: 4)
        old = try patchJSON(taken)
        // the node's status changes again, then goes away entirely
        let failed = #"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","annotations":{"x":"y"},"labels":{}},
         "spec":{"containers":[{"name":"web","image":"nginx:3","ports":[{"containerPort":80}],"env":[{"name":"A","value":"2"}]},
          {"name":"side","image":"busybox"}],"restartPolicy":"Always","nodeName":"n2"},
         "status":{"phase":"Failed","conditions":[{"type":"PodScheduled","status":"True"}]}}
        """#
        entries = try step(old, failed, manager: "agent", subresource: "status", entries: entries, at: 5)
        old = try patchJSON(failed)
        let cleared = #"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},
         "spec":{"containers":[{"name":"web","image":"nginx:3"}],"restartPolicy":"Always","nodeName":"n2"},
         "status":{}}
        """#
        entries = try step(old, cleared, manager: "agent", subresource: "status", entries: entries, at: 6)
        entries = try step(try patchJSON(cleared), cleared.replacingOccurrences(of: "\"status\":{}", with: "\"status\":null"),
                           manager: "kubectl", entries: entries, at: 7)
        #expect(!entries.isEmpty)
    }

    @Test func treeEdits() throws {
        var t: [String: JSONValue] = [:]
        FieldsV1Tree.insert(["f:a", "f:b"], into: &t)
        FieldsV1Tree.insert(["f:a"], into: &t)
        #expect(JSONValue.object(t) == (try patchJSON(#"{"f:a":{".":{},"f:b":{}}}"#)))
        #expect(FieldsV1Tree.remove(["f:a", "f:b"], from: &t))
        #expect(JSONValue.object(t) == (try patchJSON(#"{"f:a":{}}"#)))
        #expect(!FieldsV1Tree.remove(["f:a", "f:c"], from: &t))
        #expect(FieldsV1Tree.remove(["f:a"], from: &t))
        #expect(t.isEmpty)
        FieldsV1Tree.insert(["f:x", "f:y", "f:z"], into: &t)
        #expect(!FieldsV1Tree.remove(["f:x", "f:y"], from: &t))
        #expect(FieldsV1Tree.remove(["f:x", "f:y", "f:z"], from: &t))
        #expect(t.isEmpty)
    }
}
