import Foundation
import HerdAPI
import HerdClient
import HerdControllers
import Testing

@Suite struct IPv4CIDRTests {
    @Test func parsesFormatsAndSplits() throws {
        let net = try #require(IPv4CIDR("10.42.0.0/16"))
        #expect(net.description == "10.42.0.0/16")
        #expect(net.size == 65536)
        #expect(net.subnet(3, prefixLength: 24)?.description == "10.42.3.0/24")
        #expect(net.subnet(256, prefixLength: 24) == nil)
        #expect(net.subnetIndex(of: IPv4CIDR("10.42.7.0/24")!) == 7)
        #expect(net.subnetIndex(of: IPv4CIDR("10.43.7.0/24")!) == nil)
        #expect(IPv4CIDR("10.42.0.1/16") == nil, "host bits set")
        #expect(IPv4CIDR("10.42.0/16") == nil)
        #expect(IPv4CIDR("10.42.0.0/33") == nil)
        #expect(IPv4CIDR("256.0.0.0/8") == nil)
        #expect(net.overlaps(IPv4CIDR("10.0.0.0/8")!))
        #expect(!net.overlaps(IPv4CIDR("10.43.0.0/16")!))
        #expect(net.contains(IPv4CIDR.parseAddress("10.42.255.254")!))
        #expect(IPv4CIDR.format(net.address(at: 1)!) == "10.42.0.1")
    }
}

@Suite struct NodeIPAMTests {
    static func podCIDR(_ c: LiveCluster, _ node: String) async throws -> String? {
        try await c.client.get(Node.self, name: node).spec?.podCIDR
    }

    @Test func nodesGetDistinctSubnetsAndAFreedOneIsReused() async throws {
        try await LiveCluster.with { c in
            var options = ControllerOptions()
            options.clusterCIDR = IPv4CIDR("10.99.0.0/22")  // room for four /24s
            try await c.running(["node-ipam-controller"], options: options) {
                for n in ["a", "b", "c", "d", "e"] { try await c.addNode(n) }
                #expect(try await c.eventually {
                    var got: [String] = []
                    for n in ["a", "b", "c", "d"] { got.append(try await Self.podCIDR(c, n) ?? "") }
                    return Set(got).count == 4 && !got.contains("")
                })
                var seen: [String: String] = [:]
                for n in ["a", "b", "c", "d", "e"] { seen[n] = try await Self.podCIDR(c, n) }
                let cidrs = Set(seen.values)
                #expect(cidrs == ["10.99.0.0/24", "10.99.1.0/24", "10.99.2.0/24", "10.99.3.0/24"])
                #expect(seen.count == 4, "the fifth node finds the range used up: \(seen)")
                let waiting = try #require(["a", "b", "c", "d", "e"].first { seen[$0] == nil })
                let node = try await c.client.get(Node.self, name: waiting)
                #expect(node.spec?.podCIDRs == nil)
                // deleting a node frees its subnet for the one that waited
                let victim = try #require(["a", "b", "c", "d"].first { $0 != waiting && seen[$0] != nil })
                try await c.client.delete(Node.self, name: victim)
                let freed = seen[victim]
                #expect(try await c.eventually { try await Self.podCIDR(c, waiting) == freed })
                let after = try await c.client.get(Node.self, name: waiting)
                #expect(after.spec?.podCIDRs == [seen[victim]!])
            }
        }
    }
}
