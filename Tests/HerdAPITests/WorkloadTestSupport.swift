import Foundation
import Testing
@testable import HerdAPI

/// Helpers for the per-kind tests: build objects from JSON (as clients send them), round-trip them, and
/// look at validation results by field path.
enum Fixture {
    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    /// A pod template with one container, built from JSON so the tests do not depend on initialisers.
    static func template(labels: [String: String] = ["app": "web"], restartPolicy: String? = nil,
                         image: String = "nginx:1.25") throws -> PodTemplateSpec {
        let labelJSON = labels.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
        let policy = restartPolicy.map { ",\"restartPolicy\":\"\($0)\"" } ?? ""
        return try decode(PodTemplateSpec.self, """
            {"metadata":{"labels":{\(labelJSON)}},
             "spec":{"containers":[{"name":"main","image":"\(image)"}]\(policy)}}
            """)
    }

    static func meta(_ name: String = "x", namespace: String = "default") -> ObjectMeta {
        ObjectMeta(name: name, namespace: namespace)
    }

    /// Encodes, checks no `null` appears, decodes back, and returns the JSON text.
    @discardableResult
    static func roundTrip<T: Codable & Equatable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let data = try enc.encode(value)
        let text = String(decoding: data, as: UTF8.self)
        #expect(!text.contains("null"), "JSON has null: \(text)", sourceLocation: sourceLocation)
        let back = try JSONDecoder().decode(T.self, from: data)
        #expect(back == value, sourceLocation: sourceLocation)
        return text
    }

    /// Decodes an upstream-shaped object and encodes it again: every field must come back, so a misspelt
    /// JSON name (which Codable would silently drop) fails the comparison.
    static func expectLossless<T: Codable>(_ type: T.Type, _ json: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let value = try decode(T.self, json)
        let again = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        let original = try decode(JSONValue.self, json)
        #expect(again == original, sourceLocation: sourceLocation)
    }

    static func fields(_ errors: [FieldError]) -> [String] { errors.map(\.field) }

    static let created = Time(Date(timeIntervalSince1970: 1_700_000_000))
    static let now = Date(timeIntervalSince1970: 1_700_000_000 + 3600)

    static func strings(_ cells: [JSONValue]) -> [String] {
        cells.map { c in
            switch c {
            case .string(let s): return s
            case .int(let i): return "\(i)"
            default: return "\(c)"
            }
        }
    }
}
