/// The value type of one protobuf field, as far as the JSON form needs to know it.
indirect enum ProtoType: Sendable, Hashable {
    case string, bool, int32, int64, uint32, uint64, double, bytes
    case message(String)
    /// `map<string, V>`, carried on the wire as repeated entries {1 key, 2 value}.
    case map(ProtoType)

    /// Scalars that a packed repeated field may carry inside one length-delimited run.
    var isPackable: Bool {
        switch self {
        case .bool, .int32, .int64, .uint32, .uint64, .double: return true
        default: return false
        }
    }

    var wireType: Int {
        switch self {
        case .bool, .int32, .int64, .uint32, .uint64: return 0
        case .double: return 1
        default: return 2
        }
    }

    init?(code: Substring) {
        switch code {
        case "s": self = .string
        case "b": self = .bool
        case "i32": self = .int32
        case "i64": self = .int64
        case "u32": self = .uint32
        case "u64": self = .uint64
        case "d": self = .double
        case "y": self = .bytes
        default:
            if code.first == "@", code.count > 1 {
                self = .message(String(code.dropFirst()))
            } else if code.first == "{", code.last == "}", code.count > 2,
                let value = ProtoType(code: code.dropFirst().dropLast())
            {
                self = .map(value)
            } else {
                return nil
            }
        }
    }
}

struct ProtoFieldSpec: Sendable, Hashable {
    var name: String
    var type: ProtoType
    var repeated: Bool
    /// A pointer in the Go struct: present values are kept in JSON even when zero.
    var pointer: Bool
    /// Embedded with `json:",inline"`: its fields go into the enclosing object.
    var inline: Bool
    /// Written by Go's JSON encoder whatever its value: value structs, and value scalars without omitempty.
    var alwaysPresent: Bool
}

struct ProtoMessageSpec: Sendable {
    var fields: [Int: ProtoFieldSpec]
    /// The `alwaysPresent` fields, filled with their zero value when the message leaves them out.
    var alwaysPresent: [ProtoFieldSpec]

    init(fields: [Int: ProtoFieldSpec]) {
        self.fields = fields
        alwaysPresent = fields.keys.sorted().compactMap { fields[$0]?.alwaysPresent == true ? fields[$0] : nil }
    }
}

struct ProtoSchema: Sendable {
    var messages: [String: ProtoMessageSpec]
    /// Entries of the tables that did not parse or name a message that does not exist; empty when the
    /// generated tables are sound (checked by the tests).
    var problems: [String]

    init(table: [(name: String, fields: String)], special: Set<String>) {
        messages = [:]
        problems = []
        for (name, text) in table {
            var fields: [Int: ProtoFieldSpec] = [:]
            for entry in text.split(separator: " ") {
                let parts = entry.split(separator: ":", maxSplits: 2)
                guard parts.count == 3, let number = Int(parts[0]), number > 0 else {
                    problems.append("\(name): bad entry \(entry)")
                    continue
                }
                var code = parts[2]
                var flags = Set<Character>()
                while let last = code.last, "*?^!".contains(last) {
                    flags.insert(last)
                    code = code.dropLast()
                }
                guard let type = ProtoType(code: code) else {
                    problems.append("\(name): bad type in \(entry)")
                    continue
                }
                fields[number] = ProtoFieldSpec(
                    name: String(parts[1]), type: type, repeated: flags.contains("*"), pointer: flags.contains("?"),
                    inline: flags.contains("^"), alwaysPresent: flags.contains("!"))
            }
            if messages[name] != nil { problems.append("\(name): defined twice") }
            messages[name] = ProtoMessageSpec(fields: fields)
        }
        for (name, spec) in messages {
            for field in spec.fields.values {
                var type = field.type
                if case .map(let value) = type { type = value }
                if case .message(let target) = type, messages[target] == nil, !special.contains(target) {
                    problems.append("\(name).\(field.name): unknown message \(target)")
                }
                if field.inline, case .message(let target) = type, special.contains(target) {
                    problems.append("\(name).\(field.name): special message cannot be inlined")
                }
            }
        }
    }
}

struct KindKey: Hashable, Sendable {
    var apiVersion: String
    var kind: String
}

extension KubernetesProtobuf {
    static let schema = ProtoSchema(table: messageTable, special: specialMessages)

    static let kinds: [KindKey: String] = {
        var out: [KindKey: String] = [:]
        for entry in kindTable { out[KindKey(apiVersion: entry.apiVersion, kind: entry.kind)] = entry.message }
        return out
    }()

    /// The apiVersion/kind pairs `decode` accepts (DeleteOptions is also accepted under any apiVersion).
    public static var supportedKinds: [(apiVersion: String, kind: String)] {
        kindTable.map { ($0.apiVersion, $0.kind) }
    }
}
