import HerdAPI

/// A further version a kind is served at (see `ServedVersion`), type-erased: converts objects between it and
/// the kind's storage version. Requests at such a version keep the storage kind in `ResourcePath.kind`, so
/// that every handler, the store, the watch cache and the patch engine work on stored objects only; the
/// request's body is converted on the way in and the response on the way out (`ResourcePath.conversion`).
protocol VersionConversion: Sendable {
    /// Where this version is served.
    var info: ResourceInfo { get }
    /// The stored object as this version shows it; the stored object itself if it does not decode.
    func served(_ stored: JSONValue) -> JSONValue
    /// An object of this version (a request body, a patched object) in the storage version, with the fields
    /// of the body this version does not know.
    func storage(_ body: JSONValue) throws -> (object: JSONValue, unknownFields: [String])
}

struct ConversionAdapter<V: ServedVersion>: VersionConversion {
    var info: ResourceInfo { V.resourceInfo }

    func served(_ stored: JSONValue) -> JSONValue {
        guard let typed = try? JSONValueDecoder.decodeValue(V.Storage.self, from: stored),
              let converted = try? V(converting: typed),
              var out = try? JSONValueEncoder.encode(converted)
        else { return stored }
        out["kind"] = .string(info.kind)
        out["apiVersion"] = .string(info.apiVersion)
        return out
    }

    func storage(_ body: JSONValue) throws -> (object: JSONValue, unknownFields: [String]) {
        // the type information must name this version (the storage kind's handlers check theirs)
        let o = try checkTypeInfo(body, info: info)
        let typed: V
        let unknown: [String]
        do {
            (typed, unknown) = try JSONValueDecoder.decode(V.self, from: o)
        } catch {
            throw APIError.badRequest("\(info.kind) in version \"\(info.version)\" cannot be handled as a \(info.kind): \(error)")
        }
        let stored: V.Storage
        do { stored = try typed.converted() } catch {
            throw APIError.badRequest("\(info.kind) in version \"\(info.version)\" cannot be handled as a \(info.kind): \(error)")
        }
        var out = try JSONValueEncoder.encode(stored)
        out["kind"] = .string(V.Storage.resourceInfo.kind)
        out["apiVersion"] = .string(V.Storage.resourceInfo.apiVersion)
        return (out, unknown)
    }
}

extension ResourcePath {
    /// The group version and kind the request addressed.
    var servedInfo: ResourceInfo { conversion?.info ?? kind.info }

    /// A stored object as the request's version shows it.
    func served(_ stored: JSONValue) -> JSONValue {
        conversion?.served(stored) ?? stored
    }

    /// A handler's result in the request's version: the object, or the items of a list (a Status is left).
    func served(_ res: HandlerResult) -> HandlerResult {
        guard let conversion else { return res }
        var out = res
        out.bytes = nil
        switch res.body["kind"]?.stringValue {
        case kind.info.kind?:
            out.body = conversion.served(res.body)
        case kind.info.listKind?:
            out.body["apiVersion"] = .string(conversion.info.apiVersion)
            out.body["kind"] = .string(conversion.info.listKind)
            out.body["items"] = res.body["items"]?.arrayValue.map { .array($0.map(conversion.served)) }
        default:
            break
        }
        return out
    }

    /// A request body of the request's version in the storage version; the fields that version does not
    /// know are warnings, or fail the request under fieldValidation=Strict.
    func storageBody(_ body: JSONValue, handlers: ResourceHandlers, options: WriteOptions) throws -> (object: JSONValue, warnings: [String]) {
        guard let conversion else { return (body, []) }
        let (object, unknown) = try conversion.storage(body)
        return (object, try handlers.fieldProblems(duplicates: [], unknown: unknown, options: options))
    }
}
