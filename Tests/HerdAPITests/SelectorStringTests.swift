import Testing
@testable import HerdAPI

@Suite struct SelectorStringTests {
    @Test func formatsLikeUpstream() {
        let s = LabelSelector(matchLabels: ["c": "x", "a": "b"], matchExpressions: [
            LabelSelectorRequirement(key: "e", operator: "Exists"),
            LabelSelectorRequirement(key: "d", operator: "DoesNotExist"),
            LabelSelectorRequirement(key: "b", operator: "NotIn", values: ["z", "y"]),
        ])
        #expect(s.selectorString == "a=b,b notin (y,z),c=x,!d,e")
        #expect(LabelSelector().selectorString == "")
    }
}
