import Foundation
import Testing
@testable import HerdAPI

@Suite struct ValidationTests {
    @Test func dnsNames() {
        #expect(Validation.dns1123Label("my-name").isEmpty)
        #expect(Validation.dns1123Label("123-abc").isEmpty)
        #expect(Validation.dns1123Label("a").isEmpty)
        #expect(Validation.dns1123Label("My-Name") == [
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ])
        #expect(Validation.dns1123Label("-a").count == 1)
        #expect(Validation.dns1123Label("a.b").count == 1)
        #expect(Validation.dns1123Label(String(repeating: "a", count: 64)) == ["must be no more than 63 characters"])
        #expect(Validation.dns1123Subdomain("example.com").isEmpty)
        #expect(Validation.dns1123Subdomain("a-b.c-d.e").isEmpty)
        #expect(Validation.dns1123Subdomain("A_b") == [
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ])
        #expect(Validation.dns1123Subdomain("a..b").count == 1)
        #expect(Validation.dns1123Subdomain("").count == 1)
        #expect(Validation.dns1123Subdomain(String(repeating: "a", count: 254)).first == "must be no more than 253 characters")
        #expect(Validation.dns1035Label("1abc").count == 1)
        #expect(Validation.dns1035Label("abc-1").isEmpty)
    }

    @Test func qualifiedNamesAndLabelValues() {
        for ok in ["app", "app.kubernetes.io/name", "MyName", "my.name", "123-abc", "a_b", "example.com/x"] {
            #expect(Validation.isQualifiedName(ok).isEmpty, "\(ok)")
        }
        #expect(Validation.isQualifiedName("/a") == ["prefix part must be non-empty"])
        #expect(Validation.isQualifiedName("a/") == [
            "name part must be non-empty",
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ])
        #expect(Validation.isQualifiedName("a/b/c").first?.hasPrefix("a qualified name must consist of") == true)
        #expect(Validation.isQualifiedName("Bad_Prefix/x").first?.hasPrefix("prefix part a lowercase RFC 1123 subdomain") == true)
        #expect(Validation.isQualifiedName("-x").count == 1)
        #expect(Validation.labelValue("").isEmpty)
        #expect(Validation.labelValue("v1.2_3-a").isEmpty)
        #expect(Validation.labelValue("-bad").count == 1)
        #expect(Validation.labelValue(String(repeating: "a", count: 64)) == ["must be no more than 63 characters"])
    }

    @Test func portsAndEnv() {
        #expect(Validation.portName("http").isEmpty)
        #expect(Validation.portName("h2c-web").isEmpty)
        #expect(Validation.portName("8080") == ["must contain at least one letter (a-z)"])
        #expect(Validation.portName("a--b") == ["must not contain consecutive hyphens"])
        #expect(Validation.portName("-ab") == ["must not begin or end with a hyphen"])
        #expect(Validation.portName("abcdefghijklmnop") == ["must be no more than 15 characters"])
        #expect(Validation.portName("HTTP").count == 2)
        #expect(Validation.validatePortNumber(0, path: "p") == [.invalid("p", "0", "must be between 1 and 65535, inclusive")])
        #expect(Validation.validatePortNumber(65535, path: "p").isEmpty)
        #expect(Validation.envVarName("MY_VAR").isEmpty)
        #expect(Validation.envVarName("my.env-name").isEmpty)
        #expect(Validation.envVarName("1ABC").count == 1)
        #expect(Validation.envVarName("..") == ["must not be '..'"])
        #expect(Validation.configMapKey("key.name").isEmpty)
        #expect(Validation.configMapKey("a/b").count == 1)
    }

    @Test func labelsAndAnnotations() {
        let errs = Validation.validateLabels(["good": "ok", "bad key!": "v", "k": "-bad"], path: "metadata.labels")
        #expect(errs.count == 2)
        #expect(errs.allSatisfy { $0.field == "metadata.labels" && $0.type == .invalid })
        #expect(Set(errs.compactMap(\.badValue)) == ["bad key!", "-bad"])
        #expect(Validation.validateAnnotations(["kubectl.kubernetes.io/last-applied-configuration": "{}"], path: "a").isEmpty)
        let huge = ["k": String(repeating: "x", count: 256 * 1024)]
        let tooLong = Validation.validateAnnotations(huge, path: "metadata.annotations")
        #expect(tooLong.map(\.type) == [.tooLong])
        #expect(tooLong.first?.description == "metadata.annotations: Too long: must have at most 262144 bytes")
    }

    @Test func objectMeta() {
        var meta = ObjectMeta(name: "web", namespace: "default")
        #expect(Validation.validateObjectMeta(meta, namespaced: true).isEmpty)
        #expect(Validation.validateObjectMeta(meta, namespaced: false) == [.forbidden("metadata.namespace", "not allowed on this type")])
        meta.namespace = nil
        #expect(Validation.validateObjectMeta(meta, namespaced: true) == [.required("metadata.namespace")])
        meta = ObjectMeta(namespace: "default")
        #expect(Validation.validateObjectMeta(meta, namespaced: true).map(\.description) == ["metadata.name: Required value: name or generateName is required"])
        meta = ObjectMeta(name: "Web_1", namespace: "Bad.NS")
        meta.generateName = "web-"
        meta.finalizers = ["example.com/keep", "bad/finalizer/x"]
        meta.ownerReferences = [
            OwnerReference(apiVersion: "apps/v1", kind: "ReplicaSet", name: "a", uid: "1", controller: true),
            OwnerReference(apiVersion: "", kind: "", name: "", uid: "", controller: true),
        ]
        let fields = Validation.validateObjectMeta(meta, namespaced: true).map(\.field)
        #expect(fields == ["metadata.name", "metadata.namespace", "metadata.ownerReferences.apiVersion",
                           "metadata.ownerReferences.kind", "metadata.ownerReferences.name", "metadata.ownerReferences.uid",
                           "metadata.ownerReferences", "metadata.finalizers"])
        #expect(Validation.validateObjectMeta(ObjectMeta(name: "ns1"), namespaced: false, nameValidator: Validation.nameIsDNSLabel).isEmpty)
        #expect(Validation.validateObjectMeta(ObjectMeta(name: "a.b"), namespaced: false, nameValidator: Validation.nameIsDNSLabel).count == 1)
    }

    @Test func generateNamePrefix() {
        var meta = ObjectMeta(name: "web-x7k2p", namespace: "default")
        meta.generateName = "web-"
        #expect(Validation.validateObjectMeta(meta, namespaced: true).isEmpty)
        meta.generateName = "Web-"
        #expect(Validation.validateObjectMeta(meta, namespaced: true).map(\.field) == ["metadata.generateName"])
    }

    @Test func objectMetaUpdate() {
        var old = ObjectMeta(name: "web", namespace: "default")
        old.uid = "u1"
        old.resourceVersion = "5"
        old.creationTimestamp = Time(Date(timeIntervalSince1970: 1_700_000_000))
        var new = old
        #expect(Validation.validateObjectMetaUpdate(new: new, old: old).isEmpty)
        new.name = "other"
        new.uid = "u2"
        new.creationTimestamp = Time(Date(timeIntervalSince1970: 1_700_000_100))
        let errs = Validation.validateObjectMetaUpdate(new: new, old: old)
        #expect(errs.map(\.field) == ["metadata.name", "metadata.uid", "metadata.creationTimestamp"])
        #expect(errs.first?.description == "metadata.name: Invalid value: \"other\": field is immutable")
        new = old
        new.resourceVersion = nil
        #expect(Validation.validateObjectMetaUpdate(new: new, old: old).map(\.detail) == ["must be specified for an update"])
    }

    @Test func numbersAndQuantities() {
        #expect(Validation.validateNonnegative(-1, path: "x") == [.invalid("x", "-1", "must be greater than or equal to 0")])
        #expect(Validation.validateNonnegative(Int64(0), path: "x").isEmpty)
        #expect(Validation.validateQuantity(.mustParse("-1"), path: "q").map(\.detail) == ["must be greater than or equal to 0"])
        #expect(Validation.validateResourceQuantity("pods", .mustParse("1.5"), path: "q").map(\.detail) == ["must be an integer"])
        #expect(Validation.validateResourceQuantity("example.com/gpu", .mustParse("500m"), path: "q").count == 1)
        #expect(Validation.validateResourceQuantity("cpu", .mustParse("500m"), path: "q").isEmpty)
    }

    @Test func intOrString() throws {
        #expect(try IntOrString.string("25%").scaledValue(total: 10, roundUp: true) == 3)
        #expect(try IntOrString.string("25%").scaledValue(total: 10, roundUp: false) == 2)
        #expect(try IntOrString.string("100%").scaledValue(total: 7, roundUp: false) == 7)
        #expect(try IntOrString.int(5).scaledValue(total: 10, roundUp: false) == 5)
        #expect(throws: IntOrString.ScaleError.self) { try IntOrString.string("25").scaledValue(total: 10, roundUp: true) }
        #expect(throws: IntOrString.ScaleError.self) { try IntOrString.string("x%").scaledValue(total: 10, roundUp: true) }
        let decoded = try JSONDecoder().decode([IntOrString].self, from: Data(#"[8080,"http"]"#.utf8))
        #expect(decoded == [.int(8080), .string("http")])
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self) == #"[8080,"http"]"#)
        #expect(IntOrString.string("42").intValue == 42)
    }
}
