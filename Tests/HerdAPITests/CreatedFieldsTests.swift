import Foundation
import Testing
@testable import HerdAPI

/// The create shortcut of `updateManagedFields` must give exactly what comparing with an empty object gives.
@Suite struct CreatedFieldsTests {
    let now = Time(Date(timeIntervalSince1970: 1_700_000_000))

    func both(_ json: String, group: String, kind: String, subresource: String? = nil,
              hasStatus: Bool = true) throws -> (fast: [ManagedFieldsEntry], general: [ManagedFieldsEntry]) {
        let obj = try patchJSON(json)
        let schema = PatchSchema.forKind(group: group, kind: kind) ?? .any
        let fast = ServerSideApply.updateManagedFields(old: nil, new: obj, manager: "m", managedFields: [], schema: schema,
                                                       apiVersion: "v1", now: now, subresource: subresource,
                                                       hasStatusSubresource: hasStatus)
        let general = ServerSideApply.updateManagedFieldsByComparing(
            old: nil, new: obj, manager: "m", operation: "Update", managedFields: [], schema: schema, apiVersion: "v1", now: now,
            subresource: subresource, ignore: .init(subresource: subresource, hasStatusSubresource: hasStatus))
        return (fast, general)
    }

    @Test func podWithEveryKindOfField() throws {
        let r = try both(#"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","uid":"u","generation":1,
          "creationTimestamp":"2024-01-01T00:00:00Z","labels":{"app":"web","tier":"x"},"annotations":{"a":"b"},
          "finalizers":["x/y","x/y","z"],"ownerReferences":[{"uid":"u1","name":"rs","kind":"ReplicaSet","apiVersion":"apps/v1"}]},
         "spec":{"containers":[{"name":"web","image":"nginx","command":["/bin/web"],"args":[],
            "ports":[{"containerPort":80},{"containerPort":80,"protocol":"UDP"},{"name":"x"}],
            "env":[{"name":"A","value":"1"},{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"x"}}}],
            "resources":{"requests":{"cpu":"100m"},"limits":{}},"securityContext":null}],
          "nodeSelector":{"disk":"ssd"},"volumes":[{"name":"v","emptyDir":{}}],"affinity":{"nodeAffinity":{}},
          "tolerations":[{"key":"k","operator":"Exists"}],"restartPolicy":"Always"},
         "status":{"phase":"Pending","qosClass":"Burstable"}}
        """#, group: "", kind: "Pod")
        #expect(r.fast == r.general)
        #expect(r.fast.count == 1)
    }

    @Test func deploymentStatusSubresourceAndMetadataOnly() throws {
        let deploy = #"""
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","labels":{}},
         "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"strategy":{"type":"RollingUpdate"},
          "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}},
         "status":{"replicas":1,"conditions":[{"type":"Available","status":"True"}]}}
        """#
        for (sub, hasStatus) in [(nil, true), ("status", true), (nil, false)] as [(String?, Bool)] {
            let r = try both(deploy, group: "apps", kind: "Deployment", subresource: sub, hasStatus: hasStatus)
            #expect(r.fast == r.general)
        }
        let bare = try both(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"d"}}"#,
                            group: "", kind: "ConfigMap")
        #expect(bare.fast.isEmpty)
        #expect(bare.fast == bare.general)
    }

    @Test func unknownKindWithoutSchema() throws {
        let r = try both(#"{"apiVersion":"x/v1","kind":"Thing","metadata":{"name":"t","labels":{"a":"b"}},"spec":{"list":[1,2],"m":{"k":null}}}"#,
                         group: "example.com", kind: "Thing")
        #expect(r.fast == r.general)
    }
}
