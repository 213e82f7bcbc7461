/// A patch that cannot be applied. The server answers `400 Bad Request` for a malformed patch document and
/// `422 Unprocessable Entity` for a well-formed patch that does not fit the object (upstream does the same).
public struct PatchError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The patch document itself is malformed (400).
        case badRequest
        /// The patch is well-formed but does not apply to this object (422).
        case unprocessable
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    static func bad(_ message: String) -> PatchError { PatchError(.badRequest, message) }
    static func unprocessable(_ message: String) -> PatchError { PatchError(.unprocessable, message) }

    /// HTTP status code the server answers with.
    public var statusCode: Int { kind == .badRequest ? 400 : 422 }
    public var description: String { message }
}
