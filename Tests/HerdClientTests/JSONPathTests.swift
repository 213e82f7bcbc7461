import HerdAPI
import Testing
@testable import HerdClient

let podList: JSONValue = ["kind": "List", "items": [
    ["metadata": ["name": "a", "labels": ["app": "web"]], "status": ["containerStatuses": [["name": "c", "ready": true, "restartCount": 2]]]],
    ["metadata": ["name": "b", "labels": ["app.kubernetes.io/name": "db"]], "status": ["containerStatuses": [["name": "c", "ready": false, "restartCount": 0]]]],
]]

@Suite struct JSONPathTests {
    @Test func simpleField() throws {
        #expect(try JSONPathTemplate("{.items[0].metadata.name}").render(podList) == "a")
        #expect(try JSONPathTemplate("{.items[-1].metadata.name}").render(podList) == "b")
    }

    @Test func wildcardJoinsWithSpaces() throws {
        #expect(try JSONPathTemplate("{.items[*].metadata.name}").render(podList) == "a b")
    }

    @Test func rangeWithLiterals() throws {
        let t = try JSONPathTemplate(#"{range .items[*]}{.metadata.name}{"\t"}{.status.containerStatuses[0].restartCount}{"\n"}{end}"#)
        #expect(try t.render(podList) == "a\t2\nb\t0\n")
    }

    @Test func filtersAndEscapedKeys() throws {
        #expect(try JSONPathTemplate(#"{.items[?(@.metadata.name=="b")].status.containerStatuses[0].ready}"#).render(podList) == "false")
        #expect(try JSONPathTemplate(#"{.items[1].metadata.labels.app\.kubernetes\.io/name}"#).render(podList) == "db")
        #expect(try JSONPathTemplate(#"{.items[?(@.status.containerStatuses[0].restartCount>1)].metadata.name}"#).render(podList) == "a")
    }

    @Test func mapsPrintAsJSON() throws {
        #expect(try JSONPathTemplate("{.items[0].metadata.labels}").render(podList) == #"{"app":"web"}"#)
    }

    @Test func recursiveDescent() throws {
        #expect(try JSONPathTemplate("{..restartCount}").render(podList) == "2 0")
    }

    @Test func malformedTemplatesThrow() {
        #expect(throws: CommandError.self) { try JSONPathTemplate("{.items[0") }
        #expect(throws: CommandError.self) { try JSONPathTemplate("{range .items[*]}{.x}") }
        #expect(throws: CommandError.self) { try JSONPathTemplate("{end}") }
    }
}
