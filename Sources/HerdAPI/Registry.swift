/// Every kind the API serves. The server builds its routes, discovery and OpenAPI from this list.
public enum BuiltinKinds {
    public static let all: [any APIObject.Type] = []
}
