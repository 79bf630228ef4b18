import Foundation
import Glibc
import Synchronization

/// One request of the load, as the thread that made it saw it.
struct LoadRequest {
    enum Outcome {
        case done
        /// EKEYREVOKED: the volume was locked.
        case revoked
        /// Any other error, or a read that differed from the model.
        case failed
    }

    /// CLOCK_MONOTONIC nanoseconds.
    var start: UInt64
    var end: UInt64
    var outcome: Outcome

    var latency: UInt64 { end - start }
}

/// One thread of the lifecycle bench's steady load: 4 KiB pwrite and
/// pread, alternating, at random sector-aligned offsets of a file of its
/// own. The model holds every acknowledged write and each read is checked
/// against it. Reads drop the block's cached page first, so that every
/// request reaches the daemon and meets its key state. A write refused
/// with EKEYREVOKED is retried (every millisecond) until acknowledged, so
/// that the model stays what the file must hold.
final class LoadWorker: @unchecked Sendable {
    static let blockSize = 4096
    /// A 256 KiB file.
    static let blockCount = 64

    let path: String
    /// What the coordinator watches while the load runs (nanoseconds, 0
    /// for none): when the request in flight started, when the last one
    /// done or refused with EKEYREVOKED ended.
    let inFlightSince = Atomic<UInt64>(0)
    let lastDone = Atomic<UInt64>(0)
    let lastRevoked = Atomic<UInt64>(0)
    /// Set (releasing) once the thread has ended on a problem: its
    /// ``problems`` may be read from then on.
    let stoppedOnProblem = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)

    /// Read only after the thread has ended.
    private(set) var requests: [LoadRequest] = []
    private(set) var problems: [String] = []
    private var model: [UInt8]

    private let fd: Int32
    private let seed: UInt64
    private var sequence: UInt64 = 0
    private var writeNext = true
    private var buffer = [UInt8](repeating: 0, count: LoadWorker.blockSize)

    /// Creates the file, full of a first pattern, before any measurement.
    init(path: String, seed: UInt64) throws(CommandFailure) {
        self.path = path
        self.seed = seed
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CommandFailure(.internalError, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        model = [UInt8](repeating: 0, count: Self.blockSize * Self.blockCount)
        for block in 0..<Self.blockCount {
            guard write(block: block) == .done else {
                throw CommandFailure(.internalError, "cannot fill \(path): \(problems.joined(separator: "; "))")
            }
        }
        requests.removeAll()
    }

    deinit { close(fd) }

    func run() {
        var random = SystemRandomNumberGenerator()
        while !stopRequested.load(ordering: .relaxed) && problems.isEmpty {
            let block = Int.random(in: 0..<Self.blockCount, using: &random)
            if writeNext { writeUntilAcknowledged(block: block) } else { _ = read(block: block) }
            writeNext.toggle()
        }
        if !problems.isEmpty { stoppedOnProblem.store(true, ordering: .releasing) }
    }

    func stop() { stopRequested.store(true, ordering: .relaxed) }

    private func writeUntilAcknowledged(block: Int) {
        while write(block: block) == .revoked { usleep(1000) }
    }

    /// A block no earlier write had: the thread, the sequence number and
    /// the word's place in it.
    private func write(block: Int) -> LoadRequest.Outcome {
        sequence += 1
        let stamp = seed << 48 ^ sequence << 12
        buffer.withUnsafeMutableBytes { bytes in
            for word in 0..<Self.blockSize / 8 {
                bytes.storeBytes(of: (stamp | UInt64(word)).littleEndian, toByteOffset: word * 8, as: UInt64.self)
            }
        }
        let offset = block * Self.blockSize
        let outcome = timed("pwrite") { pwrite(fd, buffer, Self.blockSize, off_t(offset)) }
        if outcome == .done { model.replaceSubrange(offset..<offset + Self.blockSize, with: buffer) }
        return outcome
    }

    private func read(block: Int) -> LoadRequest.Outcome {
        sequence += 1
        let offset = block * Self.blockSize
        posix_fadvise(fd, off_t(offset), off_t(Self.blockSize), POSIX_FADV_DONTNEED)
        var outcome = timed("pread") { pread(fd, &buffer, Self.blockSize, off_t(offset)) }
        if outcome == .done && !buffer.elementsEqual(model[offset..<offset + Self.blockSize]) {
            problems.append("\(path): block \(block) read back different from what was written")
            requests[requests.count - 1].outcome = .failed
            outcome = .failed
        }
        return outcome
    }

    /// Makes one request, recording when it ran and how it ended.
    private func timed(_ name: String, _ call: () -> Int) -> LoadRequest.Outcome {
        let start = MonotonicClock.nanoseconds()
        inFlightSince.store(start, ordering: .relaxed)
        let result = call()
        let error = errno
        let end = MonotonicClock.nanoseconds()
        inFlightSince.store(0, ordering: .relaxed)
        let outcome: LoadRequest.Outcome
        if result == Self.blockSize {
            outcome = .done
            lastDone.store(end, ordering: .relaxed)
        } else if result < 0 && error == EKEYREVOKED {
            outcome = .revoked
            lastRevoked.store(end, ordering: .relaxed)
        } else {
            outcome = .failed
            problems.append("\(path): \(name) returned \(result)" + (result < 0 ? " (\(String(cString: strerror(error))))" : ""))
        }
        requests.append(LoadRequest(start: start, end: end, outcome: outcome))
        return outcome
    }

    /// After the run, with the volume unlocked: the blocks whose bytes,
    /// read past the page cache, differ from the model.
    func blocksDifferingFromModel() -> [Int] {
        (0..<Self.blockCount).filter { block in
            let before = requests.count
            defer { requests.removeSubrange(before...) }
            return read(block: block) != .done
        }
    }
}
