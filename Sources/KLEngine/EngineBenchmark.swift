import CKLKernels
import Dispatch
import Foundation
import Glibc

/// `klfs bench engine`: MB/s of each engine and of OpenSSL's AES-256-XTS,
/// measured in one run so that ratios between them mean something. Peers
/// take turns within each case, several rounds, and the median counts, so
/// a noisy neighbour slows every peer alike.
public struct EngineBenchmark: Sendable {
    public struct Configuration: Sendable {
        public var secondsPerSample: Double = 0.3
        public var rounds: Int = 3
        public var sectorSizes: [Int] = [512, 4096]
        public var threadCounts: [Int] = EngineBenchmark.defaultThreadCounts
        /// Bytes per engine call: a large FUSE request, where the per-call
        /// cost (keylocker-soft unwraps both handles for every call) is
        /// lost in the crypto, and a 4 KiB one, where it shows.
        public var requestSizes: [Int] = [1 << 20, 4096]
        /// The XTS kernels the aesni and keylocker-soft engines are measured
        /// on, one row each; a kernel this CPU cannot run is reported
        /// unavailable, with what it lacks.
        public var xtsKernels: [XTSKernel] = XTSKernel.concrete

        public init() {}
    }

    /// One engine (or OpenSSL) in one direction, sector size and thread count.
    public struct Row: Codable, Sendable {
        public enum Status: String, Codable, Sendable {
            case measured
            /// The keylocker engine under the emulator: a trap per
            /// instruction, so its speed says nothing about hardware.
            case emulated
            case unavailable
        }
        public let engine: String
        /// The XTS kernel of an aesni or keylocker-soft row; nil for the others.
        public let xtsKernel: String?
        public let direction: String
        public let sectorSize: Int
        /// Bytes per engine call.
        public let requestSize: Int
        public let threads: Int
        public let status: Status
        /// Median of the rounds, 10^6 bytes per second.
        public let megabytesPerSecond: Double?
        public let note: String?
    }

    public struct Report: Codable, Sendable {
        public let cpu: String
        /// The kernel `auto` picks on this CPU.
        public let xtsKernel: String
        /// The kernels this CPU runs, slowest first.
        public let xtsKernels: [String]
        public let rounds: Int
        public let rows: [Row]
    }

    public static var defaultThreadCounts: [Int] {
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return cores > 1 ? [1, cores] : [1]
    }

    public let configuration: Configuration
    public let features: CPUFeatures

    public init(configuration: Configuration = .init(), features: CPUFeatures = .detect()) {
        self.configuration = configuration
        self.features = features
    }

    /// What one row measures: OpenSSL, or an engine on one XTS kernel.
    struct Peer: Hashable {
        let engine: String
        let xtsKernel: XTSKernel?
    }

    /// Peers in the order the table shows them. "openssl" is libcrypto's
    /// EVP AES-256-XTS with the IV set per sector, as a disk encryptor uses
    /// it; "openssl-speed" is `openssl speed -evp aes-256-xts`, one IV per
    /// buffer: OpenSSL's best case, encryption only. The aesni and
    /// keylocker-soft engines come once per kernel; keylocker runs its own.
    var peers: [Peer] {
        let perKernel = [EngineKind.aesni, .keylockerSoft].flatMap { kind in
            configuration.xtsKernels.map { Peer(engine: kind.rawValue, xtsKernel: $0) }
        }
        return [Peer(engine: "openssl", xtsKernel: nil), Peer(engine: "openssl-speed", xtsKernel: nil)]
            + perKernel + [Peer(engine: EngineKind.keylocker.rawValue, xtsKernel: nil)]
    }

    public func run(progress: (String) -> Void = { _ in }) throws(EngineError) -> Report {
        let peers = self.peers
        var subjects: [(peer: Peer, subject: Subject)] = []
        for peer in peers { subjects.append((peer, try makeSubject(peer))) }
        var rows: [Row] = []
        for requestSize in configuration.requestSizes {
            for sectorSize in configuration.sectorSizes where requestSize % sectorSize == 0 {
                for threads in configuration.threadCounts {
                    for direction in [CryptDirection.encrypt, .decrypt] {
                        progress("\(direction), \(requestSize)-byte requests of \(sectorSize)-byte sectors, "
                                 + "\(threads) thread(s)")
                        rows += measureCase(subjects, Case(direction: direction, sectorSize: sectorSize,
                                                           requestSize: requestSize, threads: threads))
                    }
                }
            }
        }
        let order = Dictionary(uniqueKeysWithValues: peers.enumerated().map { ($1, $0) })
        func rank(_ row: Row) -> Int {
            order[Peer(engine: row.engine, xtsKernel: row.xtsKernel.flatMap { XTSKernel(rawValue: $0) })]!
        }
        rows.sort { rank($0) < rank($1) } // stable: cases keep their order
        return Report(cpu: features.brand, xtsKernel: (try? features.resolve(.auto))?.rawValue ?? "none",
                      xtsKernels: features.xtsKernels.map(\.rawValue), rounds: configuration.rounds, rows: rows)
    }

    /// What is measured for a peer, or why it is not.
    enum Subject {
        case engine(any XTSKey)
        case openSSL(SecretBytes)
        case openSSLSpeed(URL)
        case notMeasured(Row.Status, String)
    }

    func makeSubject(_ peer: Peer) throws(EngineError) -> Subject {
        switch peer.engine {
        case "openssl":
            return .openSSL(try SecretBytes.random(count: 64))
        case "openssl-speed":
            let command = URL(fileURLWithPath: "/usr/bin/openssl")
            guard FileManager.default.isExecutableFile(atPath: command.path) else {
                return .notMeasured(.unavailable, "no /usr/bin/openssl (apt-get install openssl)")
            }
            return .openSSLSpeed(command)
        default:
            let engine: any XTSEngine
            do {
                engine = try makeEngine(EngineKind(rawValue: peer.engine)!, xtsKernel: peer.xtsKernel ?? .auto,
                                        features: features)
            } catch {
                return .notMeasured(.unavailable, error.description)
            }
            if let keylocker = engine as? KeyLockerEngine, keylocker.isEmulated {
                return .notMeasured(.emulated, "Key Locker instructions are emulated: no speed to report")
            }
            return .engine(try engine.makeKey(dataKey: .random(count: 32), tweakKey: .random(count: 32)))
        }
    }

    /// What one row measures.
    struct Case {
        let direction: CryptDirection
        let sectorSize: Int
        let requestSize: Int
        let threads: Int
    }

    /// Every peer on one case, in turns, `rounds` times; one row each.
    func measureCase(_ subjects: [(peer: Peer, subject: Subject)], _ measured: Case) -> [Row] {
        var samples = Array(repeating: [Double](), count: subjects.count)
        var notes = Array(repeating: (Row.Status.measured, String?.none), count: subjects.count)
        for _ in 0..<configuration.rounds {
            for (index, entry) in subjects.enumerated() where notes[index].0 == .measured {
                switch sample(entry.subject, measured) {
                case .success(let speed): samples[index].append(speed)
                case .failure(let reason): notes[index] = (reason.status, reason.note)
                }
            }
        }
        return subjects.enumerated().map { index, entry in
            let (status, note) = notes[index]
            return Row(engine: entry.peer.engine, xtsKernel: entry.peer.xtsKernel?.rawValue,
                       direction: "\(measured.direction)", sectorSize: measured.sectorSize,
                       requestSize: measured.requestSize, threads: measured.threads, status: status,
                       megabytesPerSecond: status == .measured ? median(samples[index]) : nil, note: note)
        }
    }

    struct NotMeasured: Error {
        let status: Row.Status
        let note: String
    }

    /// One timed run of one peer: MB/s, or why there is none.
    func sample(_ subject: Subject, _ measured: Case) -> Result<Double, NotMeasured> {
        let (direction, sectorSize) = (measured.direction, measured.sectorSize)
        switch subject {
        case .notMeasured(let status, let note):
            return .failure(NotMeasured(status: status, note: note))
        case .engine(let key):
            return .success(throughput(measured) { input, output in
                { try? key.crypt(direction, input, into: output, dataUnitSize: sectorSize, firstDataUnit: 7) }
            })
        case .openSSL(let key):
            return .success(throughput(measured) { input, output in
                // One context per thread, made before the clock starts.
                let openSSL = key.withUnsafeBytes { OpenSSLXTS(key: $0, direction: direction) }
                return { openSSL.crypt(input, into: output, dataUnitSize: sectorSize, firstDataUnit: 7) }
            })
        case .openSSLSpeed(let command):
            guard direction == .encrypt else {
                return .failure(NotMeasured(status: .unavailable, note: "openssl speed measures encryption only"))
            }
            guard measured.requestSize == configuration.requestSizes.first else {
                return .failure(NotMeasured(status: .unavailable,
                                            note: "openssl speed has one case per sector size, shown at the first request size"))
            }
            guard let speed = openSSLSpeed(command, sectorSize: sectorSize, threads: measured.threads) else {
                return .failure(NotMeasured(status: .unavailable, note: "openssl speed failed"))
            }
            return .success(speed)
        }
    }

    /// MB/s from `openssl speed -evp aes-256-xts`, whose result line reads
    /// "AES-256-XTS  5297561.60k" (thousands of bytes per second).
    func openSSLSpeed(_ command: URL, sectorSize: Int, threads: Int) -> Double? {
        let process = Process()
        process.executableURL = command
        process.arguments = ["speed", "-evp", "aes-256-xts", "-bytes", "\(sectorSize)",
                             "-seconds", "\(max(1, Int(configuration.secondsPerSample.rounded(.up))))"]
            + (threads > 1 ? ["-multi", "\(threads)"] : [])
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("AES-256-XTS") }),
              let field = line.split(separator: " ").last, field.hasSuffix("k"),
              let thousands = Double(field.dropLast()) else { return nil }
        return thousands / 1000
    }

    /// Runs the operation that `prepare` builds for each thread over that
    /// thread's request-sized buffers until the time is up; returns the sum
    /// of the threads' MB/s (10^6 bytes per second).
    func throughput(_ measured: Case,
                    _ prepare: @Sendable (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> () -> Void) -> Double {
        let (size, threads) = (measured.requestSize, measured.threads)
        let seconds = configuration.secondsPerSample
        // Each thread writes its own slot only.
        nonisolated(unsafe) let rates = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
        rates.initialize(repeating: 0)
        defer { rates.deallocate() }
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            let input = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
            defer { input.deallocate(); output.deallocate() }
            for i in 0..<size { input[i] = UInt8(truncatingIfNeeded: i &* 131 &+ thread) }
            let operation = prepare(UnsafeRawBufferPointer(input), output)
            operation() // warm caches before the clock starts
            let begin = monotonicSeconds()
            var done = 0
            var elapsed = 0.0
            repeat {
                operation()
                done += size
                elapsed = monotonicSeconds() - begin
            } while elapsed < seconds
            rates[thread] = Double(done) / elapsed / 1e6
        }
        return rates.reduce(0, +)
    }
}

/// The middle value, or the mean of the two middle ones; nil for none.
public func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
