import Foundation
import KLEngine

/// The table `klfs bench engine` prints: one row per engine, direction,
/// sector size and thread count, then the ratios the goals are stated in.
struct EngineBenchmarkTable {
    let report: EngineBenchmark.Report

    var text: String {
        var lines = ["CPU: \(report.cpu)   XTS kernel: \(report.xtsKernel)   median of \(report.rounds) rounds",
                     pad("engine", 16) + pad("direction", 10) + pad("sector", 8) + pad("threads", 9) + "MB/s"]
        for row in report.rows {
            let speed: String
            switch row.status {
            case .measured: speed = String(format: "%.0f", row.megabytesPerSecond ?? 0)
            case .emulated: speed = "emulated"
            case .unavailable: speed = "unavailable"
            }
            lines.append(pad(row.engine, 16) + pad(row.direction, 10) + pad("\(row.sectorSize)", 8)
                         + pad("\(row.threads)", 9) + speed)
        }
        lines.append("")
        lines += ratioLines
        let notes = Set(report.rows.compactMap { row in row.note.map { "\(row.engine): \($0)" } })
        lines += notes.sorted()
        return lines.joined(separator: "\n")
    }

    /// aesni / OpenSSL and keylocker-soft / aesni, 4096-byte sectors, one thread.
    private var ratioLines: [String] {
        var lines: [String] = []
        for (numerator, denominator) in [("aesni", "openssl"), ("aesni", "openssl-speed"),
                                         ("keylocker-soft", "aesni"), ("keylocker-soft", "openssl")] {
            for direction in ["encrypt", "decrypt"] {
                guard let top = speed(numerator, direction), let bottom = speed(denominator, direction),
                      bottom > 0 else { continue }
                lines.append(String(format: "%@ / %@, %@, 4096-byte sectors, 1 thread: %.2fx",
                                    numerator, denominator, direction, top / bottom))
            }
        }
        return lines
    }

    private func speed(_ engine: String, _ direction: String) -> Double? {
        report.rows.first {
            $0.engine == engine && $0.direction == direction && $0.sectorSize == 4096 && $0.threads == 1
        }?.megabytesPerSecond
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
