/// An IPv4 network in CIDR notation ("10.42.0.0/16"), shared by flag validation, the node IPAM controller,
/// the pod network and the ClusterIP allocator.
public struct IPv4CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address, host bits zero.
    public let base: UInt32
    public let prefixLength: Int

    /// Parses "a.b.c.d/n"; nil when malformed or when host bits are set ("10.42.0.1/16").
    public init?(_ s: String) {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]), (0...32).contains(bits),
              let address = IPv4CIDR.parseAddress(String(parts[0])) else { return nil }
        guard address & ~IPv4CIDR.mask(bits) == 0 else { return nil }
        base = address
        prefixLength = bits
    }

    public init(base: UInt32, prefixLength: Int) {
        self.prefixLength = prefixLength
        self.base = base & IPv4CIDR.mask(prefixLength)
    }

    public var description: String { "\(IPv4CIDR.format(base))/\(prefixLength)" }

    /// How many addresses the network spans (2^(32-n)).
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }

    public func contains(_ address: UInt32) -> Bool { address & IPv4CIDR.mask(prefixLength) == base }

    public func contains(_ other: IPv4CIDR) -> Bool { other.prefixLength >= prefixLength && contains(other.base) }

    public func overlaps(_ other: IPv4CIDR) -> Bool {
        let m = IPv4CIDR.mask(min(prefixLength, other.prefixLength))
        return base & m == other.base & m
    }

    /// The address `offset` places after the network address.
    public func address(at offset: UInt64) -> UInt32? {
        offset < size ? base &+ UInt32(truncatingIfNeeded: offset) : nil
    }

    /// The `index`-th subnet of length `prefixLength` (e.g. the 3rd /24 of a /16); nil past the end.
    public func subnet(_ index: Int, prefixLength sub: Int) -> IPv4CIDR? {
        guard sub >= prefixLength, sub <= 32, index >= 0 else { return nil }
        let count = UInt64(1) << UInt64(sub - prefixLength)
        guard UInt64(index) < count else { return nil }
        return IPv4CIDR(base: base &+ (UInt32(index) << UInt32(32 - sub)), prefixLength: sub)
    }

    /// Which subnet of length `sub` an address or subnet falls in; nil when outside.
    public func subnetIndex(of other: IPv4CIDR) -> Int? {
        guard other.prefixLength >= prefixLength, contains(other.base), prefixLength < 32 else { return nil }
        return Int((other.base &- base) >> UInt32(32 - other.prefixLength))
    }

    public static func mask(_ bits: Int) -> UInt32 { bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits) }

    /// "10.42.0.1" as a number; nil unless four decimal octets 0...255.
    public static func parseAddress(_ s: String) -> UInt32? {
        let octets = s.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var v: UInt32 = 0
        for o in octets {
            guard !o.isEmpty, o.count <= 3, o.allSatisfy(\.isASCII), let n = UInt32(o), n <= 255 else { return nil }
            v = v << 8 | n
        }
        return v
    }

    public static func format(_ address: UInt32) -> String {
        "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff)"
    }
}
