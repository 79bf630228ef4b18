import Foundation
import KLEngine

/// The table `klfs bench engine` prints: one row per engine and XTS
/// kernel, direction, request size, sector size and thread count, then the
/// ratios the goals are stated in.
struct EngineBenchmarkTable {
    let report: EngineBenchmark.Report

    var text: String {
        var lines = ["CPU: \(report.cpu)   XTS kernel auto: \(report.xtsKernel)   median of \(report.rounds) rounds",
                     pad("engine", 16) + pad("kernel", 11) + pad("direction", 10) + pad("request", 9)
                         + pad("sector", 8) + pad("threads", 9) + pad("MB/s", 10) + "µs/request"]
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
            lines.append(pad(row.engine, 16) + pad(row.xtsKernel ?? "-", 11) + pad(row.direction, 10)
                         + pad(sizeText(row.requestSize), 9) + pad("\(row.sectorSize)", 8) + pad("\(row.threads)", 9)
                         + pad(speed, 10) + perRequest)
        }
        lines.append("")
        lines += ratioLines
        let notes = Set(report.rows.compactMap { row in row.note.map { "\(row.engine): \($0)" } })
        lines += notes.sorted()
        return lines.joined(separator: "\n")
    }

    /// What one ratio compares: an engine, on one XTS kernel where it has
    /// a choice.
    private struct Peer {
        let engine: String
        let kernel: String?

        var label: String { kernel.map { "\(engine) \($0)" } ?? engine }
    }

    /// aesni / OpenSSL and keylocker-soft / aesni on the default kernel,
    /// then each faster kernel / aesni-xmm per engine; 4096-byte sectors,
    /// one thread, at each request size.
    private var ratioLines: [String] {
        var lines: [String] = []
        let requestSizes = report.rows.map(\.requestSize).reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }
        for requestSize in requestSizes {
            for (numerator, denominator) in comparedPeers {
                for direction in ["encrypt", "decrypt"] {
                    guard let top = speed(numerator, direction, requestSize),
                          let bottom = speed(denominator, direction, requestSize), bottom > 0 else { continue }
                    lines.append(String(format: "%@ / %@, %@, %@ requests, 4096-byte sectors, 1 thread: %.2fx",
                                        numerator.label, denominator.label, direction, sizeText(requestSize),
                                        top / bottom))
                }
            }
        }
        return lines
    }

    private var comparedPeers: [(Peer, Peer)] {
        let aesni = Peer(engine: "aesni", kernel: defaultKernel)
        let soft = Peer(engine: "keylocker-soft", kernel: defaultKernel)
        var pairs = [(aesni, Peer(engine: "openssl", kernel: nil)), (aesni, Peer(engine: "openssl-speed", kernel: nil)),
                     (soft, aesni), (soft, Peer(engine: "openssl", kernel: nil))]
        for engine in ["aesni", "keylocker-soft"] {
            for kernel in measuredKernels where kernel != XTSKernel.aesniXMM.rawValue {
                pairs.append((Peer(engine: engine, kernel: kernel),
                              Peer(engine: engine, kernel: XTSKernel.aesniXMM.rawValue)))
            }
        }
        return pairs
    }

    /// Kernels with rows, in the report's order.
    private var measuredKernels: [String] {
        report.rows.compactMap(\.xtsKernel).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    }

    /// The kernel the engine-against-engine ratios use: auto's, or the one
    /// measured when --xts-kernel named another.
    private var defaultKernel: String? {
        measuredKernels.contains(report.xtsKernel) ? report.xtsKernel : measuredKernels.first
    }

    private func speed(_ peer: Peer, _ direction: String, _ requestSize: Int) -> Double? {
        report.rows.first {
            $0.engine == peer.engine && $0.xtsKernel == peer.kernel && $0.direction == direction
                && $0.requestSize == requestSize && $0.sectorSize == 4096 && $0.threads == 1
        }?.megabytesPerSecond
    }

    /// 4096 -> "4 KiB", 1048576 -> "1 MiB".
    private func sizeText(_ bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : bytes % 1024 == 0 ? "\(bytes >> 10) KiB" : "\(bytes) B"
    }
}
