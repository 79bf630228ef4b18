import Foundation
import KLEngine

/// The table `klfs bench engine` prints: one row per engine, direction,
/// request size, sector size and thread count, then the ratios the goals
/// are stated in.
struct EngineBenchmarkTable {
    let report: EngineBenchmark.Report

    var text: String {
        var lines = ["CPU: \(report.cpu)   XTS kernel: \(report.xtsKernel)   median of \(report.rounds) rounds",
                     pad("engine", 16) + pad("direction", 10) + pad("request", 9) + pad("sector", 8)
                         + pad("threads", 9) + pad("MB/s", 10) + "µs/request"]
        for row in report.rows {
            let speed: String
            var perRequest = ""
            switch row.status {
            case .measured:
                let megabytesPerSecond = row.megabytesPerSecond ?? 0
                speed = String(format: "%.0f", megabytesPerSecond)
                // One thread's requests, one after another.
                if row.threads == 1 && megabytesPerSecond > 0 {
                    perRequest = String(format: "%.2f", Double(row.requestSize) / megabytesPerSecond)
                }
            case .emulated: speed = "emulated"
            case .unavailable: speed = "unavailable"
            }
            lines.append(pad(row.engine, 16) + pad(row.direction, 10) + pad(sizeText(row.requestSize), 9)
                         + pad("\(row.sectorSize)", 8) + pad("\(row.threads)", 9) + pad(speed, 10) + perRequest)
        }
        lines.append("")
        lines += ratioLines
        let notes = Set(report.rows.compactMap { row in row.note.map { "\(row.engine): \($0)" } })
        lines += notes.sorted()
        return lines.joined(separator: "\n")
    }

    /// aesni / OpenSSL and keylocker-soft / aesni, 4096-byte sectors, one
    /// thread, at each request size.
    private var ratioLines: [String] {
        var lines: [String] = []
        let requestSizes = report.rows.map(\.requestSize).reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }
        for requestSize in requestSizes {
            for (numerator, denominator) in [("aesni", "openssl"), ("aesni", "openssl-speed"),
                                             ("keylocker-soft", "aesni"), ("keylocker-soft", "openssl")] {
                for direction in ["encrypt", "decrypt"] {
                    guard let top = speed(numerator, direction, requestSize),
                          let bottom = speed(denominator, direction, requestSize), bottom > 0 else { continue }
                    lines.append(String(format: "%@ / %@, %@, %@ requests, 4096-byte sectors, 1 thread: %.2fx",
                                        numerator, denominator, direction, sizeText(requestSize), top / bottom))
                }
            }
        }
        return lines
    }

    private func speed(_ engine: String, _ direction: String, _ requestSize: Int) -> Double? {
        report.rows.first {
            $0.engine == engine && $0.direction == direction && $0.requestSize == requestSize
                && $0.sectorSize == 4096 && $0.threads == 1
        }?.megabytesPerSecond
    }

    /// 4096 -> "4 KiB", 1048576 -> "1 MiB".
    private func sizeText(_ bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : bytes % 1024 == 0 ? "\(bytes >> 10) KiB" : "\(bytes) B"
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
