import Testing
@testable import HerdAPI

/// Request bodies recorded from real kubectl 1.32 (and one from 1.33; 1.27 still sends JSON) (POSTs to a recording endpoint), each paired with what the
/// same command prints with `--dry-run=client -o json` (with `"creationTimestamp":null` left out: unset
/// fields are omitted here, never written as null).
@Suite struct ProtobufCaptureTests {
    struct Capture: Sendable, CustomStringConvertible {
        var command: String
        var hex: String
        var json: String
        var description: String { command }
    }

    static let captures: [Capture] = [
        Capture(
            command: "create namespace ns1",
            hex: "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a0032003800420012001a020a001a002200",
            json: #"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"ns1"},"spec":{},"status":{}}"#),
        Capture(
            command: "create configmap cm1 --from-literal=a=1 --from-literal=b=two",
            hex: "6b3873000a0f0a0276311209436f6e6669674d617012270a130a03636d3112001a0022002a0032003800420012060a016112013112080a0162120374776f1a002200",
            json: #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm1"},"data":{"a":"1","b":"two"}}"#),
        Capture(
            command: "create secret generic s1 --from-literal=user=admin --from-literal=pw=s3cr3t",
            hex: "6b3873000a0c0a027631120653656372657412330a120a02733112001a0022002a00320038004200120c0a0270771206733363723374120d0a0475736572120561646d696e1a001a002200",
            json: #"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s1"},"data":{"pw":"czNjcjN0","user":"YWRtaW4="}}"#),
        Capture(
            command: "create deployment d1 --image=nginx --replicas=0",
            hex: "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412a7010a1d0a02643112001a0022002a003200380042005a090a036170701202643112780800120b0a090a03617070120264311a5f0a1b0a0012001a0022002a003200380042005a090a0361707012026431124012220a056e67696e7812056e67696e782a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
            json: #"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"d1","labels":{"app":"d1"}},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"d1"}},"template":{"metadata":{"labels":{"app":"d1"}},"spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}}]}},"strategy":{}},"status":{}}"#),
        Capture(
            command: "create service clusterip svc1 --tcp=80:8080",
            hex: "6b3873000a0d0a027631120753657276696365126c0a210a047376633112001a0022002a003200380042005a0b0a0361707012047376633112430a1b0a0738302d38303830120354435018502207080010903f1a002800120b0a036170701204737663311a002209436c757374657249503a00420052005a00600068001a020a001a002200",
            json: #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"svc1","labels":{"app":"svc1"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"svc1"},"type":"ClusterIP"},"status":{"loadBalancer":{}}}"#),
        Capture(
            command: "create job j1 --image=busybox -- echo hi",
            hex: "6b3873000a0f0a0862617463682f763112034a6f621284010a120a026a3112001a0022002a00320038004200126432620a100a0012001a0022002a00320038004200124e122b0a026a31120762757379626f781a046563686f1a0268692a0042006a007200800100880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c201001a082000280030003a001a002200",
            json: #"{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"j1"},"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"j1","image":"busybox","command":["echo","hi"],"resources":{}}],"restartPolicy":"Never"}}},"status":{}}"#),
        Capture(
            command: "create serviceaccount sa1",
            hex: "6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a003200380042001a002200",
            json: #"{"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa1"}}"#),
        Capture(
            command: "create cronjob cj1 --image=busybox --schedule='*/1 * * * *' -- date",
            hex: "6b3873000a130a0862617463682f7631120743726f6e4a6f6212a7010a130a03636a3112001a0022002a00320038004200128d010a0b2a2f31202a202a202a202a1a002a7c0a130a03636a3112001a0022002a00320038004200126532630a100a0012001a0022002a00320038004200124f12280a03636a31120762757379626f781a04646174652a0042006a007200800100880100900100a201001a094f6e4661696c757265320042004a0052005800600068008201008a01009a0100c201001a001a002200",
            json: #"{"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"cj1"},"spec":{"schedule":"*/1 * * * *","jobTemplate":{"metadata":{"name":"cj1"},"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"cj1","image":"busybox","command":["date"],"resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}}"#),
        Capture(
            command: "create deployment d2 --image=nginx --port=80 -r 2",
            hex: "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b4010a1d0a02643212001a0022002a003200380042005a090a03617070120264321284010802120b0a090a03617070120264321a6b0a1b0a0012001a0022002a003200380042005a090a0361707012026432124c122e0a056e67696e7812056e67696e782a00320a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
            json: #"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"d2","labels":{"app":"d2"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"d2"}},"template":{"metadata":{"labels":{"app":"d2"}},"spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}],"resources":{}}]}},"strategy":{}},"status":{}}"#),
        Capture(
            command: "autoscale deployment d1 --min=1 --max=5 --cpu-percent=70",
            hex: "6b3873000a290a0e6175746f7363616c696e672f76311217486f72697a6f6e74616c506f644175746f7363616c6572123d0a120a02643112001a0022002a0032003800420012210a190a0a4465706c6f796d656e74120264311a07617070732f76311001180520461a04180020001a002200",
            json: #"{"kind":"HorizontalPodAutoscaler","apiVersion":"autoscaling/v1","metadata":{"name":"d1"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"d1","apiVersion":"apps/v1"},"minReplicas":1,"maxReplicas":5,"targetCPUUtilizationPercentage":70},"status":{"currentReplicas":0,"desiredReplicas":0}}"#),
        Capture(
            command: "kubectl 1.33: create deployment web1.33 --image=nginx:1.27 --port=8080 -r 3",
            hex: "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412ce010a270a07776562312e333312001a0022002a003200380042005a0e0a036170701207776562312e3333129401080312100a0e0a036170701207776562312e33331a760a200a0012001a0022002a003200380042005a0e0a036170701207776562312e3333125212340a056e67696e78120a6e67696e783a312e32372a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
            json: #"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web1.33","labels":{"app":"web1.33"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web1.33"}},"template":{"metadata":{"labels":{"app":"web1.33"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.27","ports":[{"containerPort":8080}],"resources":{}}]}},"strategy":{}},"status":{}}"#),
    ]

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let hi = iterator.next(), let lo = iterator.next() {
            if let byte = UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16) { out.append(byte) }
        }
        return out
    }

    @Test(arguments: captures) func decodesLikeKubectlsJSON(_ capture: Capture) throws {
        let body = Self.bytes(hex: capture.hex)
        #expect(body.count * 2 == capture.hex.utf8.count)
        let got = try KubernetesProtobuf.decode(body)
        let want = try JSONValue.parse(capture.json)
        #expect(got == want)
    }

    /// What the server does next: the typed decode (strict: no unknown fields), defaults and validation.
    @Test(arguments: captures) func passesTheTypedPipeline(_ capture: Capture) throws {
        var object = try KubernetesProtobuf.decode(Self.bytes(hex: capture.hex))
        let apiVersion = try #require(object["apiVersion"]?.stringValue)
        let kind = try #require(object["kind"]?.stringValue)
        guard let type = BuiltinKinds.all.first(where: {
            $0.resourceInfo.apiVersion == apiVersion && $0.resourceInfo.kind == kind
        }) else { return }  // not served by herd (CronJob, autoscaling/v1)
        // As the server does before defaulting: namespace from the URL, a fresh uid.
        if type.resourceInfo.namespaced { object["metadata"]?["namespace"] = "default" }
        object["metadata"]?["uid"] = "6f1c2b7e-0d3a-4c55-9a4e-2f8b9c0d1e2f"
        try Self.check(type, object)
    }

    static func check<T: APIObject>(_ type: T.Type, _ object: JSONValue) throws {
        let (decoded, unknown) = try JSONValueDecoder.decode(T.self, from: object)
        #expect(unknown == [])
        var typed = decoded
        typed.applyDefaults()
        #expect(typed.validate().map(\.description) == [])
    }
}
