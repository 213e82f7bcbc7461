/// Key order and prefix matching shared by every backend. Keys compare by their UTF-8 bytes, which is
/// SQLite's BINARY collation and etcd's byte order; Swift's `String <` compares by Unicode canonical
/// equivalence, which would order some keys differently from the SQL backend.
enum KeyOrder {
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    static func hasPrefix(_ key: String, _ prefix: String) -> Bool {
        key.utf8.starts(with: prefix.utf8)
    }

    /// The smallest string greater than every string starting with `prefix`, or nil when no such bound
    /// exists (empty prefix, or a prefix of U+10FFFF only). UTF-8 byte order equals scalar order, so
    /// replacing the last scalar by its successor bounds the range exactly.
    static func prefixUpperBound(_ prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }  // surrogates are not scalars
            if let successor = Unicode.Scalar(next) {
                scalars.append(successor)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars)
                return String(view)
            }
        }
        return nil
    }
}
