import Foundation
import Testing

/// YAML in and out, gzip, and the discovery forms clients rely on, over real HTTP.
@Suite struct WireFormatTests {
    @Test("YAML bodies in and out, gzip for large responses")
    func yamlAndGzip() throws {
        try withServer { s in
            let base = s.url + "/api/v1/namespaces/default/configmaps"
            let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yml\ndata:\n  port: \"80\"\n"
            let created = try Shell.run("/usr/bin/curl", ["-s", "-X", "POST", "-H", "Content-Type: application/yaml", "-H", "Accept: application/yaml", "--data-binary", yaml, base])
            #expect(created.stdout.contains("kind: ConfigMap"), "\(created.output)")
            #expect(created.stdout.contains("port: \"80\""), "\(created.output)")

            let big = String(repeating: "x", count: 2000)
            for i in 0..<100 {
                let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big\#(i)"},"data":{"k":"\#(big)"}}"#
                let r = try Shell.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body, base])
                #expect(r.stdout == "201")
            }
            let headers = try Shell.run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip", base])
            #expect(headers.stdout.lowercased().contains("content-encoding: gzip"), "\(headers.output)")
            let plain = try Shell.run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", base])
            #expect(!plain.stdout.lowercased().contains("content-encoding"), "\(plain.output)")
            let decoded = try Shell.run("/usr/bin/curl", ["-s", "--compressed", base])
            let list = try JSONSerialization.jsonObject(with: Data(decoded.stdout.utf8)) as? [String: Any]
            #expect((list?["items"] as? [Any])?.count == 101)
        }
    }
}
