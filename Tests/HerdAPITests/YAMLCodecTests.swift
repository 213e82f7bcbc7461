import Testing
@testable import HerdAPI

@Suite struct YAMLCodecTests {
    func one(_ text: String) throws -> JSONValue {
        let docs = try YAMLCodec.decodeDocuments(text)
        try #require(docs.count == 1)
        return docs[0]
    }

    @Test func decodesManifest() throws {
        let v = try one("""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              labels: {app: web, tier: "1"}
            spec:
              replicas: 3
              template:
                spec:
                  containers:
                  - name: web
                    image: nginx:1.25
                    ports:
                    - containerPort: 80
                    args: ["--a", '--b']
            """)
        #expect(v["kind"] == "Deployment")
        #expect(v[path: ["metadata", "labels"]] == ["app": "web", "tier": "1"])
        #expect(v[path: ["spec", "replicas"]] == 3)
        let c = v[path: ["spec", "template", "spec", "containers"]]?.arrayValue?.first
        #expect(c?["image"] == "nginx:1.25")
        #expect(c?["ports"] == [["containerPort": 80]])
        #expect(c?["args"] == ["--a", "--b"])
    }

    @Test func multipleDocumentsSkipEmpty() throws {
        let docs = try YAMLCodec.decodeDocuments("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n")
        #expect(docs == [["a": 1], ["b": 2]])
        #expect(try YAMLCodec.decodeDocuments("").isEmpty)
    }

    @Test func yaml11Scalars() throws {
        let v = try one("""
            t: true
            yy: yes
            on: On
            f: False
            n: no
            nul: ~
            nul2: null
            empty:
            i: 42
            neg: -7
            oct: 0777
            hex: 0x1F
            under: 1_000
            fl: 1.5
            fl2: 3.0
            exp: 1e3
            dot: .5
            ts: 2024-01-02T15:04:05Z
            date: 2024-01-02
            ver: 1.2.3
            q1: "true"
            q2: '80'
            q3: "null"
            str: !!str 123
            big: 18446744073709551615
            """)
        #expect(v["t"] == true)
        #expect(v["yy"] == true)
        #expect(v["true"] == true)  // the key `on` is itself a boolean, stringified as JSON needs
        #expect(v["f"] == false)
        #expect(v["false"] == false)
        #expect(v["nul"] == .null)
        #expect(v["nul2"] == .null)
        #expect(v["empty"] == .null)
        #expect(v["i"] == 42)
        #expect(v["neg"] == -7)
        #expect(v["oct"] == 511)
        #expect(v["hex"] == 31)
        #expect(v["under"] == 1000)
        #expect(v["fl"] == .double(1.5))
        #expect(v["fl2"] == 3)
        #expect(v["exp"] == 1000)
        #expect(v["dot"] == .double(0.5))
        #expect(v["ts"] == "2024-01-02T15:04:05Z")
        #expect(v["date"] == "2024-01-02")
        #expect(v["ver"] == "1.2.3")
        #expect(v["q1"] == "true")
        #expect(v["q2"] == "80")
        #expect(v["q3"] == "null")
        #expect(v["str"] == "123")
        #expect(v["big"] == .double(18446744073709551615.0))
    }

    @Test func blockScalarsAnchorsAndMerge() throws {
        let v = try one("""
            script: |
              echo a
              echo b
            folded: >-
              one
              two
            base: &b {x: 1, z: 2}
            ref: *b
            merged:
              <<: *b
              z: 3
            """)
        #expect(v["script"] == "echo a\necho b\n")
        #expect(v["folded"] == "one two")
        #expect(v["ref"] == ["x": 1, "z": 2])
        #expect(v["merged"] == ["x": 1, "z": 3])
    }

    @Test func duplicateKeysReported() throws {
        var dups: [String] = []
        let docs = try YAMLCodec.decodeDocuments("a:\n  y: 1\n  yes: 2\nlist:\n- on: 1\n  true: 2\n", duplicateKeys: &dups)
        #expect(dups == ["a.true", "list[0].true"])
        #expect(docs.first?[path: ["a", "true"]] == 2)
        // Keys repeated verbatim are refused by the YAML parser itself, with the line.
        #expect(throws: YAMLError("error converting YAML to JSON: yaml: unmarshal errors:\n  line 2: key \"name\" already set in map")) {
            try YAMLCodec.decodeDocuments("metadata:\n  name: a\n  name: b\n")
        }
    }

    @Test func malformedInputThrows() {
        for bad in ["a: [1, 2", "a: b: c", "- a\nb: c", "{a: 1}}", "a: *nosuch", "key: \"unterminated", "? [a]\n: 1\n",
                    "\t- a", "a: !!int abc", "x: .nan"] {
            #expect(throws: YAMLError.self, "\(bad)") { try YAMLCodec.decodeDocuments(bad) }
        }
    }

    @Test func aliasBombIsRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...8 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(throws: YAMLError.self) { try YAMLCodec.decodeDocuments(text) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)
        #expect(throws: YAMLError.self) { try YAMLCodec.decodeDocuments(deep) }
        let dashes = String(repeating: "- ", count: 20_000) + "x"
        #expect(throws: YAMLError.self) { try YAMLCodec.decodeDocuments(dashes) }
    }

    // MARK: encoding

    @Test func encodesLikeKubectl() throws {
        let pod = try JSONValue.parse(#"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}\n"},
            "creationTimestamp":"2024-01-02T15:04:05Z","labels":{"app":"web"},"name":"web","namespace":"default","resourceVersion":"12345",
            "uid":"5d6f1c55-4f3c-4b7e-9b52-2f0f0e3f0c1a"},
            "spec":{"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"web","ports":[{"containerPort":80,"protocol":"TCP"}],
            "resources":{},"command":["sh","-c","echo hi; sleep 3600"]}],"dnsPolicy":"ClusterFirst","enableServiceLinks":true,
            "tolerations":[{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300}]},
            "status":{"phase":"Pending","qosClass":"BestEffort","conditions":[]}}
            """#)
        let want = """
            apiVersion: v1
            kind: Pod
            metadata:
              annotations:
                kubectl.kubernetes.io/last-applied-configuration: |
                  {"apiVersion":"v1","kind":"Pod"}
              creationTimestamp: "2024-01-02T15:04:05Z"
              labels:
                app: web
              name: web
              namespace: default
              resourceVersion: "12345"
              uid: 5d6f1c55-4f3c-4b7e-9b52-2f0f0e3f0c1a
            spec:
              containers:
              - command:
                - sh
                - -c
                - echo hi; sleep 3600
                image: nginx
                imagePullPolicy: Always
                name: web
                ports:
                - containerPort: 80
                  protocol: TCP
                resources: {}
              dnsPolicy: ClusterFirst
              enableServiceLinks: true
              tolerations:
              - effect: NoExecute
                key: node.kubernetes.io/not-ready
                operator: Exists
                tolerationSeconds: 300
            status:
              conditions: []
              phase: Pending
              qosClass: BestEffort

            """
        #expect(YAMLCodec.encode(pod) == want)
    }

    @Test func stringQuoting() {
        func enc(_ s: String) -> String { YAMLCodec.encode(["k": .string(s)]) }
        #expect(enc("plain") == "k: plain\n")
        #expect(enc("80") == "k: \"80\"\n")
        #expect(enc("1.5") == "k: \"1.5\"\n")
        #expect(enc("true") == "k: \"true\"\n")
        #expect(enc("yes") == "k: \"yes\"\n")
        #expect(enc("n") == "k: \"n\"\n")
        #expect(enc("null") == "k: \"null\"\n")
        #expect(enc("~") == "k: \"~\"\n")
        #expect(enc("") == "k: \"\"\n")
        #expect(enc("0777") == "k: \"0777\"\n")
        #expect(enc("1:20") == "k: \"1:20\"\n")
        #expect(enc("2024-01-02") == "k: \"2024-01-02\"\n")
        #expect(enc("*") == "k: '*'\n")
        #expect(enc("a: b") == "k: 'a: b'\n")
        #expect(enc("- x") == "k: '- x'\n")
        #expect(enc("#x") == "k: '#x'\n")
        #expect(enc("it's: x") == "k: 'it''s: x'\n")
        #expect(enc(" lead") == "k: ' lead'\n")
        #expect(enc("a #b") == "k: 'a #b'\n")
        #expect(enc("a#b") == "k: a#b\n")
        #expect(enc("http://x:80/y") == "k: http://x:80/y\n")
        #expect(enc("-c") == "k: -c\n")
        #expect(enc("tab\there") == "k: \"tab\\there\"\n")
        #expect(enc("emoji 😀") == "k: \"emoji \\U0001F600\"\n")
        #expect(enc("日本") == "k: 日本\n")
        #expect(enc("quote\"d") == "k: quote\"d\n")
        #expect(enc("@at") == "k: '@at'\n")
        #expect(enc("<<") == "k: <<\n")
        #expect(enc("-") == "k: '-'\n")
        #expect(enc(".") == "k: .\n")
        #expect(enc(".5") == "k: \".5\"\n")
        #expect(enc("1_000") == "k: \"1_000\"\n")
        #expect(enc("0x1F") == "k: \"0x1F\"\n")
        #expect(enc("Off") == "k: \"Off\"\n")
        #expect(enc("1.2.3") == "k: 1.2.3\n")
    }

    @Test func multilineStrings() {
        #expect(YAMLCodec.encode(["k": "a\nb"]) == "k: |-\n  a\n  b\n")
        #expect(YAMLCodec.encode(["k": "a\nb\n"]) == "k: |\n  a\n  b\n")
        #expect(YAMLCodec.encode(["k": "a\n\nb"]) == "k: |-\n  a\n\n  b\n")
        #expect(YAMLCodec.encode(["k": " a\nb"]) == "k: |2-\n   a\n  b\n")
        #expect(YAMLCodec.encode(["k": "a \nb"]) == "k: \"a \\nb\"\n")
        #expect(YAMLCodec.encode(["l": ["x\ny"]]) == "l:\n- |-\n  x\n  y\n")
        #expect(YAMLCodec.encode(["a\nb": 1]) == "\"a\\nb\": 1\n")
    }

    @Test func numbersAndEmpties() {
        let v: JSONValue = ["i": 5, "neg": -3, "d": 2.5, "big": 1e21, "small": 0.0000001, "whole": .double(1e6),
                            "e": [:], "l": [], "n": nil, "b": false]
        #expect(YAMLCodec.encode(v) == """
            b: false
            big: 1e+21
            d: 2.5
            e: {}
            i: 5
            l: []
            "n": null
            neg: -3
            small: 1e-07
            whole: 1000000

            """)
        #expect(YAMLCodec.encode([:]) == "{}\n")
        #expect(YAMLCodec.encode([]) == "[]\n")
    }

    @Test func nestedSequences() {
        let v: JSONValue = ["m": [["a", "b"], [], [["k": "v", "j": 1]], ["x": [:], "y": ["z"]]]]
        #expect(YAMLCodec.encode(v) == """
            m:
            - - a
              - b
            - []
            - - j: 1
                k: v
            - x: {}
              "y":
              - z

            """)
    }

    @Test func naturalKeyOrder() {
        let v: JSONValue = ["a10": 1, "a2": 2, "a_b": 3, "aB": 4, "b": 5, "A": 6, "a1": 7]
        #expect(YAMLCodec.encode(v) == "A: 6\na_b: 3\na1: 7\na2: 2\na10: 1\naB: 4\nb: 5\n")
        #expect(yamlKeyLess("app", "app.kubernetes.io/name"))
        #expect(!yamlKeyLess("b", "a"))
    }

    @Test func quotedKeys() {
        let v: JSONValue = ["80": "http", "true": 1, "a b": 2, "x: y": 3]
        #expect(YAMLCodec.encode(v) == "\"80\": http\na b: 2\n\"true\": 1\n'x: y': 3\n")
    }

    @Test func encodeDecodeRoundTrip() throws {
        let v: JSONValue = ["s": ["80", "true", "", " x", "a\nb\n", "a: b", "#c", "1e3", "0x10", "日本", "'q'", "\"dq\""],
                            "n": [1, -2, 2.5, true, nil], "o": ["nested": ["deep": [[:], []]]]]
        let text = YAMLCodec.encode(v)
        #expect(try one(text) == v)
    }

    @Test func fuzzNeverCrashes() {
        var rng = SplitMix(seed: 7)
        let seed = Array("""
            apiVersion: v1
            kind: Pod
            metadata: {name: a, labels: {x: "y"}}
            spec:
              containers:
              - name: c
                args: [a, 'b', "c\\n"]
                command: |
                  echo hi
              anchors: &x [1, 2]
              ref: *x
            ---
            - !!str 5
            - ? complex
            """.utf8)
        let alphabet = Array("-:{}[],'\"&*!|>#%@? \n\tab0.~".utf8) + [0xC3, 0xFF]
        for _ in 0..<1500 {
            var b = seed
            for _ in 0..<(1 + Int(rng.next() % 5)) {
                let pos = Int(rng.next() % UInt64(b.count + 1))
                switch rng.next() % 3 {
                case 0 where pos < b.count: b[pos] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: b.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: pos)
                default: if pos < b.count { b.remove(at: pos) }
                }
            }
            if let docs = try? YAMLCodec.decodeDocuments(String(decoding: b, as: UTF8.self)) {
                for d in docs { _ = YAMLCodec.encode(d) }
            }
        }
    }
}
