import Foundation

/// The table `klfs bench lifecycle` prints: per cycle, each metric's
/// median, p90, least and greatest over the rounds, then the KDF's share,
/// LOADIWKEY (emulator only), the request counts and the integrity check.
struct LifecycleBenchTable {
    let report: LifecycleBenchReport

    var text: String {
        let kernel = report.xtsKernel.map { ", XTS kernel \($0)" } ?? ""
        var lines = ["klfs bench lifecycle: \(report.engine)\(report.emulated ? " (emulated)" : "")\(kernel), "
                     + "\(report.threads) load threads, \(report.rounds) rounds, keys away \(report.holdMilliseconds) ms per cycle",
                     "",
                     pad("", 36) + pad("median", 11) + pad("p90", 11) + pad("min", 11) + "max"]
        for cycle in report.cycles {
            lines.append(cycle.kind.title + (cycle.unsupported.map { ": not measured (\($0))" } ?? ""))
            for metric in LifecycleMetric.allCases {
                guard let values = cycle.metrics[metric] else { continue }
                let cells = [values.median, values.p90, values.min, values.max].map { cell($0, metric) }
                let row = "  " + pad(metric.label(for: cycle.kind), 34) + cells.map { pad($0, 11) }.joined()
                lines.append(String(row.reversed().drop { $0 == " " }.reversed()))
            }
        }
        lines.append("")
        if let kdf = report.kdfMicros {
            lines.append("KDF (Argon2id, \(report.kdfOpslimit) passes, \(report.kdfMemoryMiB) MiB): "
                         + "\(duration(kdf)) of a passphrase resume (median difference)")
        }
        if let load = report.loadIWKey {
            lines.append("LOADIWKEY, emulated (this process): software key \(ticks(load.softwareKeyTicks.median)) ticks, "
                         + "\(duration(load.softwareKeyMicros.median)) (configured \(load.configuredSoftwareKeyCycles) cycles); "
                         + "random key \(ticks(load.randomKeyTicks.median)) ticks, \(duration(load.randomKeyMicros.median)) "
                         + "(configured \(load.configuredRandomKeyCycles) cycles)")
        }
        if let steady = report.steadyRequestMicros {
            lines.append("load request outside the cycles: median \(duration(steady.median)), p90 \(duration(steady.p90)), "
                         + "max \(duration(steady.max))")
        }
        let requests = report.requests
        lines.append("load requests: \(requests.done) done, \(requests.refused) refused with EKEYREVOKED, \(requests.failed) failed")
        let integrity = report.integrity
        lines.append("integrity: " + (integrity.ok
            ? "\(integrity.files) files, \(integrity.bytes >> 10) KiB: every acknowledged byte read back equal"
            : "FAILED, \(integrity.differingBlocks) blocks differ"))
        lines += integrity.problems.map { "  " + $0 }
        return lines.joined(separator: "\n")
    }

    private func cell(_ value: Double, _ metric: LifecycleMetric) -> String {
        metric.isCount ? String(format: "%.0f", value) : duration(value)
    }

    /// Microseconds below a millisecond, milliseconds above.
    private func duration(_ micros: Double) -> String {
        micros < 1000 ? String(format: "%.0f µs", micros) : String(format: "%.2f ms", micros / 1000)
    }

    private func ticks(_ value: Double) -> String { String(format: "%.0f", value) }
}
