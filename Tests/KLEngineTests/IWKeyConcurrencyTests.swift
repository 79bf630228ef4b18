import Foundation
import KLEngine
import Synchronization
import Testing

/// XTS calls on four threads while the test's thread changes the IWKey
/// under them: every call gives the right output or a refusal with zeroed
/// output, never anything else, on both Key Locker engines. The test waits,
/// after each change, until every worker has finished a round begun after
/// it, so both outcomes are certain to occur; the calls in flight at each
/// change are where the races are.
@Suite struct IWKeyConcurrencyTests {
    @Test func xtsOnFourThreadsGivesTheRightOutputOrARefusalWhileTheIWKeyChanges() throws {
        for subject in try LifecycleSubject.all() {
            let tally = try subject.onItsMachine { try changeIWKeyUnderLoad(subject) }
            let engine = subject.engine.kind
            #expect(tally.wrong.isEmpty, "\(engine): \(tally.wrong.prefix(5))")
            #expect(tally.right > 0, "\(engine)")
            #expect(tally.refused > 0, "\(engine)")
        }
    }

    /// keylocker: ten rounds of a new IWKey and a restore of the backed-up
    /// one, so old handles die and come back; keylocker-soft, which cannot
    /// restore: one new IWKey.
    private func changeIWKeyUnderLoad(_ subject: LifecycleSubject) throws -> Workload.Tally {
        var generator = SystemRandomNumberGenerator()
        let rawKey = randomBytes(64, using: &generator)
        let workload = Workload(key: try makeKey(subject.engine, rawKey), rawKey: rawKey)
        let restores = subject.engine.supportedIWKeyEvents.contains(.restore)
        if restores { try subject.engine.perform(.backUp) }
        workload.start(on: subject)
        defer { workload.stop() } // on every path: no worker outlives the test
        try workload.waitForARoundBegunAfterNow()
        for _ in 0..<(restores ? 10 : 1) {
            try subject.engine.perform(.newKey)
            try workload.waitForARoundBegunAfterNow()
            if restores {
                try subject.engine.perform(.restore)
                try workload.waitForARoundBegunAfterNow()
            }
        }
        workload.stop()
        return workload.tally.withLock { $0 }
    }
}

/// Four workers, each encrypting its own plaintext and decrypting its own
/// ciphertext in rounds until stopped, and what their calls gave.
private final class Workload: @unchecked Sendable {
    static let workers = 4
    static let dataUnitSize = 512

    struct Tally: Sendable {
        var roundsBegun = [Int](repeating: 0, count: Workload.workers)
        var roundsDone = [Int](repeating: 0, count: Workload.workers)
        var right = 0, refused = 0
        var wrong: [String] = []
    }

    enum Outcome { case right, refused, wrong(String) }

    let key: any XTSKey
    let plaintexts: [[UInt8]]
    let ciphertexts: [[UInt8]]
    let tally = Mutex(Tally())
    private let stopped = Atomic(false)
    private let finished = DispatchGroup()

    init(key: any XTSKey, rawKey: [UInt8]) {
        self.key = key
        let plaintexts = (0..<Self.workers).map { worker in
            (0..<(2 * Self.dataUnitSize)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ worker) }
        }
        self.plaintexts = plaintexts
        ciphertexts = plaintexts.enumerated().map { worker, plaintext in
            openSSLCrypt(.encrypt, key: rawKey, plaintext, dataUnitSize: Self.dataUnitSize,
                         firstDataUnit: UInt128(worker))
        }
    }

    func start(on subject: LifecycleSubject) {
        for worker in 0..<Self.workers {
            finished.enter()
            Thread { [self] in
                defer { finished.leave() }
                // Workers' instructions run on the subject's machine too.
                _ = try? subject.onItsMachine { runRounds(worker) }
            }.start()
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        finished.wait()
    }

    /// Waits until every worker has finished a round that began after this
    /// call: one that ran wholly under the IWKey current now.
    func waitForARoundBegunAfterNow(timeout: Duration = .seconds(120)) throws {
        let marks = tally.withLock { $0.roundsBegun }
        let deadline = ContinuousClock.now + timeout
        while tally.withLock({ tally in (0..<Self.workers).contains { tally.roundsDone[$0] <= marks[$0] } }) {
            guard ContinuousClock.now < deadline else { throw WorkloadStalled() }
            Thread.sleep(forTimeInterval: 0.001)
        }
    }

    struct WorkloadStalled: Error {}

    private func runRounds(_ worker: Int) {
        while !stopped.load(ordering: .relaxed) {
            tally.withLock { $0.roundsBegun[worker] += 1 }
            let unit = UInt128(worker)
            let outcomes = [outcome(.encrypt, plaintexts[worker], expected: ciphertexts[worker], firstDataUnit: unit),
                            outcome(.decrypt, ciphertexts[worker], expected: plaintexts[worker], firstDataUnit: unit)]
            tally.withLock { tally in
                tally.roundsDone[worker] += 1
                for outcome in outcomes {
                    switch outcome {
                    case .right: tally.right += 1
                    case .refused: tally.refused += 1
                    case .wrong(let what): tally.wrong.append("worker \(worker): \(what)")
                    }
                }
            }
        }
    }

    private func outcome(_ direction: CryptDirection, _ input: [UInt8], expected: [UInt8],
                         firstDataUnit: UInt128) -> Outcome {
        var output = [UInt8](repeating: 0xA5, count: input.count)
        let result = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                Result { () throws(EngineError) in
                    try key.crypt(direction, source, into: destination, dataUnitSize: Self.dataUnitSize,
                                  firstDataUnit: firstDataUnit)
                }
            }
        }
        switch result {
        case .success: return output == expected ? .right : .wrong("\(direction) gave other bytes")
        case .failure(.handleRejected):
            return output.allSatisfy { $0 == 0 } ? .refused : .wrong("\(direction) refused, output not zeroed")
        case .failure(let error): return .wrong("\(direction): \(error)")
        }
    }
}
