import HerdAPI
import Testing
@testable import HerdClient

let podTable: JSONValue = [
    "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": ["resourceVersion": "42"],
    "columnDefinitions": [
        ["name": "Name", "type": "string", "format": "name", "priority": 0],
        ["name": "Ready", "type": "string", "priority": 0],
        ["name": "Status", "type": "string", "priority": 0],
        ["name": "Restarts", "type": "integer", "priority": 0],
        ["name": "Age", "type": "string", "priority": 0],
        ["name": "IP", "type": "string", "priority": 1],
        ["name": "Node", "type": "string", "priority": 1],
    ],
    "rows": [
        ["cells": ["web-7d4b9c8f5-abcde", "1/1", "Running", 0, "5m", "10.42.0.5", "node-1"],
         "object": ["kind": "PartialObjectMetadata", "metadata": ["name": "web-7d4b9c8f5-abcde", "namespace": "default",
                                                                  "labels": ["app": "web", "pod-template-hash": "7d4b9c8f5"]]]],
        ["cells": ["db", "0/1", "Pending", 12, "10s", nil, nil],
         "object": ["kind": "PartialObjectMetadata", "metadata": ["name": "db", "namespace": "data"]]],
    ],
]

@Suite struct TablePrintingTests {
    @Test func defaultColumnsAlignLikeKubectl() {
        var out = TableOutput(options: TablePrintOptions())
        let text = out.print(ServerTable(json: podTable))
        #expect(text == """
        NAME                  READY   STATUS    RESTARTS   AGE
        web-7d4b9c8f5-abcde   1/1     Running   0          5m
        db                    0/1     Pending   12         10s

        """)
    }

    @Test func wideShowsPriorityColumns() {
        var out = TableOutput(options: TablePrintOptions(wide: true))
        let text = out.print(ServerTable(json: podTable))
        #expect(text == """
        NAME                  READY   STATUS    RESTARTS   AGE   IP          NODE
        web-7d4b9c8f5-abcde   1/1     Running   0          5m    10.42.0.5   node-1
        db                    0/1     Pending   12         10s               

        """)
    }

    @Test func namespaceColumnAndNoHeaders() {
        var out = TableOutput(options: TablePrintOptions(noHeaders: true, withNamespace: true))
        let text = out.print(ServerTable(json: podTable))
        #expect(text == """
        default   web-7d4b9c8f5-abcde   1/1   Running   0     5m
        data      db                    0/1   Pending   12    10s

        """)
    }

    @Test func showLabelsAndKindPrefix() {
        var out = TableOutput(options: TablePrintOptions(showLabels: true, kindPrefix: "pod"))
        let text = out.print(ServerTable(json: podTable))
        #expect(text == """
        NAME                      READY   STATUS    RESTARTS   AGE   LABELS
        pod/web-7d4b9c8f5-abcde   1/1     Running   0          5m    app=web,pod-template-hash=7d4b9c8f5
        pod/db                    0/1     Pending   12         10s   <none>

        """)
    }

    @Test func watchRowsReuseWidthsWithoutHeaders() {
        var out = TableOutput(options: TablePrintOptions())
        _ = out.print(ServerTable(json: podTable))
        // A watch event carries a one-row table without column definitions.
        let event: JSONValue = ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": [:],
                                "rows": [["cells": ["db", "1/1", "Running", 12, "20s"]]]]
        #expect(out.print(ServerTable(json: event)) == "db                    1/1     Running   12         20s\n")
    }

    @Test func emptyTablePrintsNothing() {
        var out = TableOutput(options: TablePrintOptions())
        let empty: JSONValue = ["kind": "Table", "columnDefinitions": podTable["columnDefinitions"] ?? [], "rows": []]
        #expect(out.print(ServerTable(json: empty)) == "")
    }

    @Test func plainListFallsBackToNameAndAge() {
        let list: JSONValue = ["kind": "PodList", "items": [["metadata": ["name": "a"]]]]
        let t = ServerTable(json: list)
        #expect(t.columns.map(\.name) == ["Name", "Age"])
        #expect(t.rows.first?.cells == ["a", "<unknown>"])
    }

    @Test func cellsPrintLikeGo() {
        #expect(ServerTable.cellText(.int(3)) == "3")
        #expect(ServerTable.cellText(.double(2.0)) == "2")
        #expect(ServerTable.cellText(.double(0.5)) == "0.5")
        #expect(ServerTable.cellText(.bool(true)) == "true")
        #expect(ServerTable.cellText(.null) == "")
        #expect(ServerTable.cellText("line1\nline2") == "line1...")
    }

    @Test func tabwriterMinimumWidth() {
        var w = TabWriter()
        #expect(w.format([["A", "B"], ["x", "y"]]) == "A     B\nx     y\n")
    }

    @Test func describeAlignmentFollowsColumnBlocks() {
        let text = "Name:\tweb\nNamespace:\tdefault\nIPs:\n  IP:\t10.0.0.1\nQoS Class:\tBestEffort\n"
        #expect(TabWriter.align(text) == """
        Name:       web
        Namespace:  default
        IPs:
          IP:       10.0.0.1
        QoS Class:  BestEffort

        """)
    }
}
