import ArgumentParser
import Foundation
import HerdAPI
import HerdClient

/// One object read from a -f source, with where it came from for messages.
struct ManifestObject {
    var source: String
    var object: JSONValue

    var apiVersion: String? { object["apiVersion"]?.stringValue }
    var kind: String? { object["kind"]?.stringValue }
    var name: String? { object["metadata"]?["name"]?.stringValue }
    var namespace: String? { object["metadata"]?["namespace"]?.stringValue }
}

enum ManifestInput {
    /// Reads every object of every -f argument (files, directories, "-" for stdin).
    static func read(_ paths: [String]) throws -> [ManifestObject] {
        var out: [ManifestObject] = []
        for path in paths {
            for file in try Manifests.files(path) {
                let bytes: [UInt8]
                if file == "-" {
                    bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
                } else {
                    guard let data = FileManager.default.contents(atPath: file) else {
                        throw CommandError("the path \"\(file)\" cannot be read")
                    }
                    bytes = Array(data)
                }
                let source = file == "-" ? "STDIN" : file
                let documents: [JSONValue]
                do {
                    if file.lowercased().hasSuffix(".json") {
                        documents = [try JSONValue.parse(bytes)]
                    } else {
                        documents = try YAMLCodec.decodeDocuments(String(decoding: bytes, as: UTF8.self))
                    }
                } catch {
                    throw CommandError("error parsing \(source): \(error)")
                }
                out += Manifests.objects(documents).map { ManifestObject(source: source, object: $0) }
            }
        }
        return out
    }

    /// The served resource and namespace an object goes to, with kubectl's errors.
    static func locate(_ m: ManifestObject, _ mapper: RESTMapper, _ session: Session) throws -> (ResourceInfo, String?, String) {
        guard let apiVersion = m.apiVersion, !apiVersion.isEmpty, let kind = m.kind, !kind.isEmpty else {
            let missing = m.kind == nil ? "Kind" : "Version"
            throw CommandError("unable to decode \"\(m.source)\": Object '\(missing)' is missing in '\(m.object.serializedString)'")
        }
        let resource: ResourceInfo
        do {
            resource = try mapper.resource(apiVersion: apiVersion, kind: kind)
        } catch let e as HerdClientError {
            throw CommandError("resource mapping not found for name: \"\(m.name ?? "")\" namespace: \"\(m.namespace ?? "")\" from \"\(m.source)\": \(e.description)\nensure CRDs are installed first")
        }
        guard let name = m.name, !name.isEmpty else {
            throw CommandError("error when processing \"\(m.source)\": resource name may not be empty")
        }
        guard resource.namespaced else { return (resource, nil, name) }
        if let docNS = m.namespace, !docNS.isEmpty {
            if session.namespaceExplicit && docNS != session.namespace {
                throw CommandError("the namespace from the provided object \"\(docNS)\" does not match the namespace \"\(session.namespace)\". You must pass '--namespace=\(docNS)' to perform this operation.")
            }
            return (resource, docNS, name)
        }
        return (resource, session.namespace, name)
    }
}

/// Runs `body` for every item, printing each failure and continuing like kubectl; exits 1 if any failed.
func forEachReportingErrors<T>(_ items: [T], _ body: (T) async throws -> Void) async throws {
    var failed = false
    for item in items {
        do {
            try await body(item)
        } catch let e as HerdClientError {
            if case .connectionRefused = e { throw e }
            Output.err(ErrorText.describe(e))
            failed = true
        } catch {
            Output.err(ErrorText.describe(error))
            failed = true
        }
    }
    if failed { throw ExitCode(1) }
}
