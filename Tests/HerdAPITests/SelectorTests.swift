import Testing
@testable import HerdAPI

@Suite struct LabelSelectorTests {
    func parse(_ s: String) throws -> LabelSelectorExpression { try LabelSelectorParser.parse(s) }

    func error(_ s: String) -> String? {
        do {
            _ = try LabelSelectorParser.parse(s)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func parsesEveryOperator() throws {
        let s = try parse("a=b,c!=d,e in (x,y),f notin (z),g,!h,i==j,n>3,m<10")
        #expect(s.requirements.map(\.key) == ["a", "c", "e", "f", "g", "h", "i", "m", "n"])
        #expect(s.requirements.map(\.operator) == [.equals, .notEquals, .in, .notIn, .exists, .doesNotExist,
                                                   .doubleEquals, .lessThan, .greaterThan])
        #expect(s.description == "a=b,c!=d,e in (x,y),f notin (z),g,!h,i==j,m<10,n>3")
    }

    @Test func canonicalStringSortsKeysAndValues() throws {
        #expect(try parse("z=1, a in (q, b ,c)").description == "a in (b,c,q),z=1")
        #expect(try parse(" x = y ").description == "x=y")
        #expect(try parse("x in (b,a,b)").requirements[0].values == ["a", "b"])
        #expect(try parse("app.kubernetes.io/name=web").description == "app.kubernetes.io/name=web")
    }

    @Test func emptyIsEverything() throws {
        #expect(try parse("").isEverything)
        #expect(try parse("  ").isEverything)
        #expect(try parse("").matches(["a": "b"]))
        #expect(!(try parse("a")).isEverything)
    }

    @Test func matching() throws {
        let labels = ["app": "web", "tier": "front", "n": "5"]
        #expect(try parse("app=web").matches(labels))
        #expect(try parse("app==web,tier=front").matches(labels))
        #expect(!(try parse("app=db").matches(labels)))
        #expect(try parse("app!=db").matches(labels))
        #expect(try parse("missing!=x").matches(labels))
        #expect(try parse("tier in (front,back)").matches(labels))
        #expect(!(try parse("missing in (a)").matches(labels)))
        #expect(try parse("tier notin (back)").matches(labels))
        #expect(try parse("missing notin (back)").matches(labels))
        #expect(!(try parse("tier notin (front)").matches(labels)))
        #expect(try parse("app").matches(labels))
        #expect(!(try parse("!app").matches(labels)))
        #expect(try parse("!missing").matches(labels))
        #expect(try parse("n>4,n<6").matches(labels))
        #expect(!(try parse("n>5").matches(labels)))
        #expect(!(try parse("app>1").matches(labels)))
        #expect(try parse("x=").matches(["x": ""]))
        #expect(!(try parse("x=").matches([:])))
        #expect(try parse("x in ()").matches(["x": ""]))
    }

    @Test func keywordsAsKeysAndValues() throws {
        #expect(try parse("in=notin").matches(["in": "notin"]))
        #expect(try parse("x in (in,notin)").requirements[0].values == ["in", "notin"])
    }

    @Test func upstreamErrorMessages() {
        #expect(error("x=a||y=b")?.hasPrefix("unable to parse requirement: values[0]: Invalid value: \"a||y\"") == true)
        #expect(error("x==a==b") == "found '==', expected: ',' or 'end of string'")
        #expect(error("!x=a") == "found '=', expected: ',' or 'end of string'")
        #expect(error("x,") == "found '', expected: identifier after ','")
        #expect(error(",x") == "found ',', expected: !, identifier, or 'end of string'")
        #expect(error("x in y") == "unable to parse requirement: found 'y' expected: '('")
        #expect(error("x in (a") == "unable to parse requirement: found '', expected: ',' or ')'")
        #expect(error("x in (a b)") == "unable to parse requirement: found 'b', expected: ',' or ')'")
        #expect(error("x notin (=)") == "unable to parse requirement: found '=', expected: ',', ')' or identifier")
        #expect(error("x y") == "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt")
        #expect(error("x=(") == "unable to parse requirement: found '(', expected: identifier")
        #expect(error("x<a") == "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer")
        #expect(error("=a") == "found '=', expected: !, identifier, or 'end of string'")
    }

    @Test func validatesKeysAndValues() {
        #expect(error("x=a b") != nil)
        #expect(error("-x=a")?.hasPrefix("unable to parse requirement: Invalid value: \"-x\": name part must consist of alphanumeric characters") == true)
        #expect(error("a/b/c=d")?.contains("a qualified name must consist of") == true)
        #expect(error("Example.com/x=y")?.contains("prefix part a lowercase RFC 1123 subdomain") == true)
        #expect(error("/x=y")?.contains("prefix part must be non-empty") == true)
        #expect(error(String(repeating: "k", count: 64) + "=v")?.contains("name part must be no more than 63 characters") == true)
        #expect(error("x=" + String(repeating: "v", count: 64))?.contains("must be no more than 63 characters") == true)
        #expect(error("x=-v")?.contains("a valid label must be an empty string or consist of alphanumeric characters") == true)
        #expect(error("x=a_b.c-d") == nil)
        #expect(error("x in (a,-b)") != nil)
    }

    @Test func fromLabelSelector() throws {
        let ls = LabelSelector(matchLabels: ["tier": "front", "app": "web"], matchExpressions: [
            LabelSelectorRequirement(key: "env", operator: "In", values: ["prod", "dev"]),
            LabelSelectorRequirement(key: "legacy", operator: "DoesNotExist"),
            LabelSelectorRequirement(key: "team", operator: "Exists"),
            LabelSelectorRequirement(key: "zone", operator: "NotIn", values: ["b"]),
        ])
        let s = try LabelSelectorExpression(ls)
        #expect(s.description == "app=web,env in (dev,prod),!legacy,team,tier=front,zone notin (b)")
        #expect(ls.selectorString == s.description)
        #expect(s.matches(["app": "web", "tier": "front", "env": "prod", "team": "x"]))
        #expect(!s.matches(["app": "web", "tier": "front", "env": "prod", "team": "x", "legacy": "1"]))
        #expect(try LabelSelectorExpression(LabelSelector()).isEverything)
        #expect(LabelSelector().selectorString == "")
        #expect(!LabelSelectorExpression.nothing.matches([:]))
    }

    @Test func labelSelectorErrors() {
        func err(_ r: LabelSelectorRequirement) -> String? {
            do {
                _ = try LabelSelectorExpression(LabelSelector(matchExpressions: [r]))
                return nil
            } catch {
                return error.message
            }
        }
        #expect(err(.init(key: "a", operator: "Equals", values: ["x"])) == "\"Equals\" is not a valid label selector operator")
        #expect(err(.init(key: "a", operator: "In", values: [])) == "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty")
        #expect(err(.init(key: "a", operator: "Exists", values: ["x"])) == "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist")
        #expect(err(.init(key: "a b", operator: "Exists"))?.hasPrefix("key: Invalid value: \"a b\": name part must consist") == true)
        #expect(LabelSelector(matchLabels: ["a": "-bad"]).selectorString == "<error>")
    }

    @Test func fuzzNeverCrashes() {
        var rng = SplitMix(seed: 3)
        let alphabet = Array("ab=!(),<> \tin notin 9-_./".utf8)
        for _ in 0..<3000 {
            let n = Int(rng.next() % 20)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            if let s = try? LabelSelectorParser.parse(String(decoding: bytes, as: UTF8.self)) {
                // The canonical form parses back to the same selector.
                #expect((try? LabelSelectorParser.parse(s.description))?.description == s.description)
            }
        }
    }
}

@Suite struct FieldSelectorTests {
    @Test func parsesAndMatches() throws {
        let s = try FieldSelector(parsing: "metadata.name=x,status.phase!=Running")
        #expect(s.fields == ["metadata.name", "status.phase"])
        #expect(s.matches(["metadata.name": "x", "status.phase": "Pending"]))
        #expect(!s.matches(["metadata.name": "x", "status.phase": "Running"]))
        #expect(!s.matches(["metadata.name": "y"]))
        #expect(s.value(for: "metadata.name") == "x")
        #expect(s.value(for: "status.phase") == nil)
        #expect(s.description == "metadata.name=x,status.phase!=Running")
    }

    @Test func doubleEqualsAndEmptyValues() throws {
        let s = try FieldSelector(parsing: "spec.nodeName==,metadata.namespace==default")
        #expect(s.requirements.map(\.value) == ["default", ""])
        #expect(s.matches(["metadata.namespace": "default"]))
        #expect(!s.matches(["metadata.namespace": "default", "spec.nodeName": "n1"]))
        #expect(s.description == "metadata.namespace=default,spec.nodeName=")
    }

    @Test func termsAreSortedLikeUpstream() throws {
        #expect(try FieldSelector(parsing: "b=1,a=2").description == "a=2,b=1")
        #expect(try FieldSelector(parsing: "").isEverything)
        #expect(try FieldSelector(parsing: "a=1,,b=2").requirements.count == 2)
    }

    @Test func escaping() throws {
        let s = try FieldSelector(parsing: #"metadata.name=a\,b\=c\\d"#)
        #expect(s.value(for: "metadata.name") == #"a,b=c\d"#)
        #expect(s.description == #"metadata.name=a\,b\=c\\d"#)
        #expect(FieldSelector.escapeValue("x=y,z") == #"x\=y\,z"#)
        #expect(try FieldSelector(parsing: s.description) == s)
    }

    @Test func errors() {
        func err(_ s: String) -> String? {
            do {
                _ = try FieldSelector(parsing: s)
                return nil
            } catch {
                return error.message
            }
        }
        #expect(err("metadata.name") == "invalid selector: 'metadata.name'; can't understand 'metadata.name'")
        #expect(err("a=b,c") == "invalid selector: 'a=b,c'; can't understand 'c'")
        #expect(err(#"a=b\x"#) == #"invalid field selector: invalid escape sequence: \x"#)
        #expect(err(#"a=b\"#) == #"invalid field selector: invalid escape sequence: \"#)
        #expect(err("a=b=c") == "invalid field selector: unescaped character in value: =")
        #expect(err("a!=b") == nil)
    }

    @Test func fuzzNeverCrashes() {
        var rng = SplitMix(seed: 11)
        let alphabet = Array("ab=!,\\. ".utf8)
        for _ in 0..<3000 {
            let n = Int(rng.next() % 16)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            if let s = try? FieldSelector(parsing: String(decoding: bytes, as: UTF8.self)) {
                #expect((try? FieldSelector(parsing: s.description)) == s)
            }
        }
    }
}
