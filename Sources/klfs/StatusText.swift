import Foundation

/// How `klfs status` prints a ``StatusReport``.
enum StatusText {
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    static func describe(_ report: StatusReport) -> String {
        var lines = [report.mountPoint]
        func add(_ label: String, _ value: String) {
            lines.append("  " + (label + ":").padding(toLength: 18, withPad: " ", startingAt: 0) + value)
        }
        add("state", report.state.rawValue + (report.cause.map { " (\($0.rawValue))" } ?? ""))
        add(report.mode == "image" ? "image" : "cipher dir", report.cipherDir)
        if let image = report.image {
            add("format", image.type + (image.keyslot.map { ", keyslot \($0)" } ?? ""))
            add("layout", "sector size \(image.sectorSize), payload offset \(image.payloadOffset), iv offset \(image.ivOffset)")
        }
        add("daemon", "pid \(report.pid), up \(String(format: "%.1f", report.uptimeSeconds)) s")
        add("engine", report.engine + " (XTS kernel: \(report.xtsKernel ?? "not reported"))")
        if let restrictions = report.handleRestrictions {
            add("handles", "data \(listed(restrictions.data)); tweak \(listed(restrictions.tweak))")
        }
        if let iwkey = report.iwkey {
            add("IWKey", "KeySource \(iwkey.keySourceName), " + (iwkey.noBackup ? "NoBackup" : "backup allowed"))
        }
        add("read", "\(report.requests["read"] ?? 0) requests, \(report.bytesRead) bytes")
        add("write", "\(report.requests["write"] ?? 0) requests, \(report.bytesWritten) bytes")
        add("sectors", "\(report.sectorsEncrypted) encrypted, \(report.sectorsDecrypted) decrypted")
        add("handle failures", "\(report.handleFailures)")
        let others = report.requests.filter { $0.key != "read" && $0.key != "write" && $0.value > 0 }
            .sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        add("other requests", others.isEmpty ? "none" : others.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    private static func listed(_ restrictions: [String]) -> String {
        restrictions.isEmpty ? "none" : restrictions.joined(separator: ",")
    }
}
