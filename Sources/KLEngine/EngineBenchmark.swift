import CKLKernels
import Dispatch
import Glibc

/// `klfs bench engine`: MB/s of each engine and of OpenSSL's AES-256-XTS,
/// measured in one run so that ratios between them mean something.
public struct EngineBenchmark: Sendable {
    public struct Configuration: Sendable {
        public var secondsPerCase: Double = 0.5
        public var sectorSizes: [Int] = [512, 4096]
        public var threadCounts: [Int] = EngineBenchmark.defaultThreadCounts
        /// Bytes per engine call: a large FUSE request.
        public var bytesPerCall: Int = 1 << 20

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
        public let direction: String
        public let sectorSize: Int
        public let threads: Int
        public let status: Status
        public let megabytesPerSecond: Double?
        public let note: String?
    }

    public struct Report: Codable, Sendable {
        public let cpu: String
        public let xtsKernel: String
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

    /// Peers in the order the table shows them.
    static let peers = ["openssl", EngineKind.aesni.rawValue, EngineKind.keylockerSoft.rawValue,
                        EngineKind.keylocker.rawValue]

    public func run(progress: (String) -> Void = { _ in }) throws(EngineError) -> Report {
        var rows: [Row] = []
        for peer in Self.peers {
            let subject = try makeSubject(peer)
            for sectorSize in configuration.sectorSizes {
                for threads in configuration.threadCounts {
                    for direction in [CryptDirection.encrypt, .decrypt] {
                        progress("\(peer) \(direction) \(sectorSize)-byte sectors, \(threads) thread(s)")
                        rows.append(measure(peer, subject, direction, sectorSize, threads))
                    }
                }
            }
        }
        return Report(cpu: features.brand, xtsKernel: AESNIEngine.kernelName, rows: rows)
    }

    /// What is measured for a peer: an engine's key, OpenSSL's raw key, or
    /// the reason it is not measured.
    enum Subject {
        case engine(any XTSKey)
        case openSSL(SecretBytes)
        case notMeasured(Row.Status, String)
    }

    func makeSubject(_ peer: String) throws(EngineError) -> Subject {
        if peer == "openssl" { return .openSSL(try SecretBytes.random(count: 64)) }
        let kind = EngineKind(rawValue: peer)!
        let engine: any XTSEngine
        do {
            engine = try makeEngine(kind, features: features)
        } catch {
            return .notMeasured(.unavailable, error.description)
        }
        if let keylocker = engine as? KeyLockerEngine, keylocker.isEmulated {
            return .notMeasured(.emulated, "Key Locker instructions are emulated: no speed to report")
        }
        return .engine(try engine.makeKey(dataKey: .random(count: 32), tweakKey: .random(count: 32)))
    }

    func measure(_ peer: String, _ subject: Subject, _ direction: CryptDirection,
                 _ sectorSize: Int, _ threads: Int) -> Row {
        let speed: Double
        switch subject {
        case .notMeasured(let status, let note):
            return Row(engine: peer, direction: "\(direction)", sectorSize: sectorSize, threads: threads,
                       status: status, megabytesPerSecond: nil, note: note)
        case .engine(let key):
            speed = throughput(threads: threads) { input, output in
                { try? key.crypt(direction, input, into: output, dataUnitSize: sectorSize, firstDataUnit: 7) }
            }
        case .openSSL(let key):
            speed = throughput(threads: threads) { input, output in
                // One context per thread, made outside the timed loop.
                let openSSL = key.withUnsafeBytes { OpenSSLXTS(key: $0, direction: direction) }
                return { openSSL.crypt(input, into: output, dataUnitSize: sectorSize, firstDataUnit: 7) }
            }
        }
        return Row(engine: peer, direction: "\(direction)", sectorSize: sectorSize, threads: threads,
                   status: .measured, megabytesPerSecond: speed, note: nil)
    }

    /// Runs the operation that `prepare` builds for each thread over that
    /// thread's buffers until the time is up; returns the sum of the
    /// threads' MB/s (10^6 bytes per second).
    func throughput(threads: Int,
                    _ prepare: @Sendable (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> () -> Void) -> Double {
        let size = configuration.bytesPerCall
        let seconds = configuration.secondsPerCase
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

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
