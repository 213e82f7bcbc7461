import Foundation
import HerdAPI

/// Go's text/tabwriter as kubectl configures it (minwidth 6, padding 3, pad with spaces, remember widths):
/// every cell but a row's last is padded to its column's width, so columns line up with at least three
/// spaces between them.
public struct TabWriter: Sendable {
    public var minWidth = 6
    public var padding = 3
    /// Column widths of earlier flushes; later rows keep using them (growing if needed), as `kubectl get -w` does.
    public private(set) var widths: [Int] = []

    public init() {}

    public mutating func format(_ rows: [[String]]) -> String {
        for row in rows {
            for (i, cell) in row.dropLast().enumerated() {
                let w = max(minWidth, cell.unicodeScalars.count + padding)
                if i < widths.count { widths[i] = max(widths[i], w) } else { widths.append(w) }
            }
        }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < row.count - 1 {
                    line += String(repeating: " ", count: max(0, widths[i] - cell.unicodeScalars.count))
                }
            }
            // tabwriter drops trailing padding only for the last cell; an empty last cell leaves the padding.
            out += line + "\n"
        }
        return out
    }
}

/// How to print a server-side Table, as kubectl's get flags set it.
public struct TablePrintOptions: Sendable, Hashable {
    public var wide = false
    public var noHeaders = false
    /// -A: a NAMESPACE column first.
    public var withNamespace = false
    public var showLabels = false
    /// When several resource types are printed, names become "kind/name" ("deployment.apps/web").
    public var kindPrefix: String?
    /// -L: extra columns with these labels' values.
    public var columnLabels: [String] = []

    public init(wide: Bool = false, noHeaders: Bool = false, withNamespace: Bool = false, showLabels: Bool = false,
                kindPrefix: String? = nil, columnLabels: [String] = []) {
        self.wide = wide
        self.noHeaders = noHeaders
        self.withNamespace = withNamespace
        self.showLabels = showLabels
        self.kindPrefix = kindPrefix
        self.columnLabels = columnLabels
    }
}

/// A meta.k8s.io/v1 Table as received (JSON), ready to print.
public struct ServerTable: Sendable, Hashable {
    public var columns: [TableColumnDefinition]
    public var rows: [TableRow]
    public var resourceVersion: String?

    public init(columns: [TableColumnDefinition], rows: [TableRow], resourceVersion: String? = nil) {
        self.columns = columns
        self.rows = rows
        self.resourceVersion = resourceVersion
    }

    /// Reads a Table; a plain list or single object (a server without Table support) becomes NAME and AGE
    /// rows, as kubectl's default printer does.
    public init(json: JSONValue) {
        if json["kind"]?.stringValue == "Table" {
            columns = (json["columnDefinitions"]?.arrayValue ?? []).map { c in
                TableColumnDefinition(name: c["name"]?.stringValue ?? "", type: c["type"]?.stringValue ?? "string",
                                      format: c["format"]?.stringValue ?? "", description: c["description"]?.stringValue ?? "",
                                      priority: Int(c["priority"]?.intValue ?? 0))
            }
            rows = (json["rows"]?.arrayValue ?? []).map { r in
                TableRow(cells: r["cells"]?.arrayValue ?? [], object: r["object"])
            }
        } else {
            columns = [TableColumnDefinition(name: "Name", type: "string", format: "name"),
                       TableColumnDefinition(name: "Age", type: "string")]
            let items = json["items"]?.arrayValue ?? (json["metadata"] != nil ? [json] : [])
            rows = items.map { item in
                let name = item["metadata"]?["name"]?.stringValue ?? ""
                let created = item["metadata"]?["creationTimestamp"]?.stringValue
                let age = created.flatMap(RFC3339.parse).map { Age.format(Date().timeIntervalSince($0)) } ?? "<unknown>"
                return TableRow(cells: [.string(name), .string(age)], object: item)
            }
        }
        resourceVersion = json["metadata"]?["resourceVersion"]?.stringValue
    }

    /// The header and cell texts kubectl prints: hidden columns dropped unless wide, NAMESPACE, label
    /// columns and kind prefixes added.
    public func render(_ options: TablePrintOptions) -> (header: [String], rows: [[String]]) {
        let visible = columns.indices.filter { options.wide || columns[$0].priority == 0 }
        let nameColumn = options.kindPrefix == nil ? nil
            : columns.firstIndex(where: { $0.format == "name" && $0.type == "string" })
        var header: [String] = []
        if options.withNamespace { header.append("NAMESPACE") }
        header += visible.map { columns[$0].name.uppercased() }
        header += options.columnLabels.map { Self.labelHeader($0) }
        if options.showLabels { header.append("LABELS") }

        let out = rows.map { row -> [String] in
            let meta = row.object?["metadata"]
            var cells: [String] = []
            if options.withNamespace { cells.append(meta?["namespace"]?.stringValue ?? "") }
            for i in visible {
                var text = i < row.cells.count ? Self.cellText(row.cells[i]) : ""
                if i == nameColumn, let prefix = options.kindPrefix { text = "\(prefix)/\(text)" }
                cells.append(text)
            }
            let labels = Self.labels(meta)
            for key in options.columnLabels { cells.append(labels[key] ?? "") }
            if options.showLabels { cells.append(Self.formatLabels(labels)) }
            return cells
        }
        return (header, out)
    }

    static func labels(_ meta: JSONValue?) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in meta?["labels"]?.objectValue ?? [:] { out[k] = v.stringValue ?? "" }
        return out
    }

    /// labels.FormatLabels: sorted `k=v` joined by commas, `<none>` when empty.
    public static func formatLabels(_ labels: [String: String]) -> String {
        if labels.isEmpty { return "<none>" }
        return labels.keys.sorted().map { "\($0)=\(labels[$0] ?? "")" }.joined(separator: ",")
    }

    /// -L app.kubernetes.io/name shows as NAME (the last path segment, uppercased).
    static func labelHeader(_ key: String) -> String {
        (key.split(separator: "/").last.map(String.init) ?? key).uppercased()
    }

    /// A cell as Go's fmt.Sprint prints it; text after a line break is cut and marked with "...".
    public static func cellText(_ v: JSONValue) -> String {
        let s: String
        switch v {
        case .null: return ""
        case .string(let x): s = x
        case .int(let i): return String(i)
        case .double(let d): return goFloat(d)
        case .bool(let b): return b ? "true" : "false"
        case .array(let a): return "[" + a.map(cellText).joined(separator: " ") + "]"
        case .object(let o): return "map[" + o.keys.sorted().map { "\($0):\(cellText(o[$0] ?? .null))" }.joined(separator: " ") + "]"
        }
        if let cut = s.firstIndex(where: { $0 == "\n" || $0 == "\r" || $0 == "\u{0C}" || $0 == "\r\n" }) {
            return String(s[..<cut]) + "..."
        }
        return s
    }

    static func goFloat(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e21 { return String(Int64(d)) }
        return String(d)
    }
}

/// Prints tables the way kubectl's HumanReadablePrinter does across calls: headers once per column set,
/// widths remembered (so watch rows line up under the list).
public struct TableOutput: Sendable {
    public var options: TablePrintOptions
    private var writer = TabWriter()
    private var lastColumns: [TableColumnDefinition] = []
    private var printedHeaders = false

    public init(options: TablePrintOptions) {
        self.options = options
    }

    /// The text for one table (possibly a one-row watch table without column definitions).
    public mutating func print(_ table: ServerTable) -> String {
        var table = table
        var local = options
        if printedHeaders && (table.columns.isEmpty || table.columns == lastColumns) { local.noHeaders = true }
        if table.columns.isEmpty {
            table.columns = lastColumns
        } else if table.columns != lastColumns {
            lastColumns = table.columns
            printedHeaders = false
            writer = TabWriter()
        }
        if !table.rows.isEmpty { printedHeaders = true }
        if table.rows.isEmpty { return "" }
        let (header, rows) = table.render(local)
        return writer.format(local.noHeaders ? rows : [header] + rows)
    }
}

extension TabWriter {
    /// Go's text/tabwriter over tab-separated text: cells end at tabs, a column is aligned over each run of
    /// consecutive lines that have a cell in it (so a line without tabs ends every block), and the last cell
    /// of a line is never padded. kubectl describe uses it with minwidth 0 and padding 2.
    public static func align(_ text: String, minWidth: Int = 0, padding: Int = 2) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        let endsWithNewline = text.hasSuffix("\n")
        if endsWithNewline { lines.removeLast() }
        var out = ""
        var widths: [Int] = []

        func write(_ from: Int, _ to: Int) {
            for l in from..<to {
                let cells = lines[l]
                for (j, cell) in cells.enumerated() {
                    out += cell
                    if j < cells.count - 1 && j < widths.count {
                        out += String(repeating: " ", count: max(0, widths[j] - cell.unicodeScalars.count))
                    }
                }
                out += "\n"
            }
        }

        func format(_ start: Int, _ end: Int) {
            let column = widths.count
            var line0 = start
            var this = start
            while this < end {
                if column >= lines[this].count - 1 { this += 1; continue }
                write(line0, this)
                line0 = this
                var width = minWidth
                while this < end, column < lines[this].count - 1 {
                    width = max(width, lines[this][column].unicodeScalars.count + padding)
                    this += 1
                }
                widths.append(width)
                format(line0, this)
                widths.removeLast()
                line0 = this
            }
            write(line0, end)
        }

        format(0, lines.count)
        if !endsWithNewline, out.hasSuffix("\n") { out.removeLast() }
        return out
    }
}
