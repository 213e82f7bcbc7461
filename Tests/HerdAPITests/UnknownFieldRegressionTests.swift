import HerdAPI
import Testing

@Test("keys the type does not ask for are unknown even when it asks for absent keys") func unknownFieldsOfAConfigMap() throws {
    let v = try JSONValue.parse(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"dataa":{}}"#)
    let (_, unknown) = try JSONValueDecoder.decode(ConfigMap.self, from: v)
    #expect(unknown == ["dataa"])
}
