import Foundation
import Glibc
import KLBlock
import Testing
import KLTestSupport

/// Four writers on overlapping unaligned ranges of one file and on a file
/// each, with readers and renames running alongside, through the mount.
///
/// The serial model for the shared file: each write(2) is one FUSE write
/// (at most 12,000 bytes, under max_write), which klfs applies atomically
/// under the file's lock. So the final file must be what *some* serial
/// order of all the writes would make, an order that keeps each writer's
/// own writes in program order. Every write carries bytes that name it
/// (a pseudo-random function of the write and the position), so each span
/// of the file tells which write last covered it; "B covers a span that A
/// won" means B came before A. The test checks that these constraints and
/// the program orders have no cycle, i.e. such an order exists.
@Suite struct MountConcurrencyTests {
    static let writers = 4
    static let writesPerWriter = 150
    static let sharedSpan = 96 * 1024
    static let deadlineSeconds = 120

    @Test(arguments: [SectorSize(bytes: 4096)!, SectorSize(bytes: 512)!])
    func concurrentWritersReadersAndRenamesMatchASerialModel(sectorSize: SectorSize) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let volume = try VolumeFixture(sectorSize: sectorSize)
        defer { volume.unmount() }
        try volume.requireMount()
        let shared = volume.path("shared")
        close(try posix(open(shared, O_CREAT | O_RDWR, 0o600)))
        for writer in 0..<Self.writers {
            close(try posix(open(volume.path("own\(writer)"), O_CREAT | O_RDWR, 0o600)))
        }

        let run = try ConcurrentRun(volume: volume, seed: seed)
        let stop = StopFlag()
        // Threads of their own: GCD's pool on a 2-core machine may not run
        // eight blocking loops at once.
        let group = DispatchGroup()
        func start(_ body: @escaping @Sendable () -> Void) {
            group.enter()
            Thread { body(); group.leave() }.start()
        }
        for writer in 0..<Self.writers { start { run.write(as: writer) } }
        for reader in 0..<2 { start { run.read(until: stop, seed: seed &+ UInt64(reader)) } }
        start { run.rename(until: stop) }
        start { run.writersFinished.wait(); stop.set() }

        guard group.wait(timeout: .now() + .seconds(Self.deadlineSeconds)) == .success else {
            Issue.record("seed \(seed): deadlock: the threads did not finish within \(Self.deadlineSeconds) s")
            // Kill the daemon so that the stuck calls fail and the threads end.
            if let daemon = volume.daemonPID() { kill(daemon, SIGKILL) }
            _ = group.wait(timeout: .now() + .seconds(10))
            return
        }
        #expect(run.failures.isEmpty, "seed \(seed): \(run.failures.prefix(5))")

        let final = try #require(FileManager.default.contents(atPath: shared))
        let problem = run.checkSerialisable(Array(final))
        #expect(problem == nil, "seed \(seed): \(problem ?? "")")
        for writer in 0..<Self.writers {
            let name = FileManager.default.fileExists(atPath: volume.path("own\(writer)"))
                ? "own\(writer)" : "own\(writer).moved"
            let contents = try #require(FileManager.default.contents(atPath: volume.path(name)))
            let matches = Array(contents) == run.ownModels[writer]  // a failing #expect would print whole files
            #expect(matches, "seed \(seed): \(name) differs from its model")
        }
    }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    func set() { lock.withLock { stopped = true } }
    var isSet: Bool { lock.withLock { stopped } }
}

/// The writes every thread made, and the checks on the result.
final class ConcurrentRun: @unchecked Sendable {
    struct Write {
        let offset: Int
        let count: Int
        var end: Int { offset + count }
    }

    let volume: VolumeFixture
    let seed: UInt64
    private let lock = NSLock()
    private(set) var failures: [String] = []
    /// Per writer, its writes to the shared file in program order.
    private(set) var sharedWrites: [[Write]]
    /// Per writer, the exact contents of its own file.
    private(set) var ownModels: [[UInt8]]
    let writersFinished = DispatchGroup()

    /// Per writer, the shared file and its own file, opened before any
    /// thread starts (the renamer moves the own files while they are written).
    let descriptors: [(shared: Int32, own: Int32)]

    init(volume: VolumeFixture, seed: UInt64) throws {
        self.volume = volume
        self.seed = seed
        descriptors = try (0..<MountConcurrencyTests.writers).map { writer in
            (try posix(open(volume.path("shared"), O_RDWR)), try posix(open(volume.path("own\(writer)"), O_RDWR)))
        }
        sharedWrites = Array(repeating: [], count: MountConcurrencyTests.writers)
        ownModels = Array(repeating: [], count: MountConcurrencyTests.writers)
        for _ in 0..<MountConcurrencyTests.writers { writersFinished.enter() }
    }

    private func fail(_ message: String) { lock.withLock { failures.append(message) } }

    /// The byte write `id` puts at file position `position`.
    static func pattern(_ id: Int, _ position: Int) -> UInt8 {
        var generator = SeededGenerator(seed: UInt64(id) << 32 | UInt64(position))
        return UInt8(truncatingIfNeeded: generator.next())
    }

    static func writeID(writer: Int, index: Int) -> Int { writer * 10_000 + index + 1 }

    func write(as writer: Int) {
        defer { writersFinished.leave() }
        var generator = SeededGenerator(seed: seed &+ UInt64(writer) &* 7919)
        let (shared, own) = descriptors[writer]
        defer { close(shared); close(own) }
        var writes: [Write] = []
        var model: [UInt8] = []
        for index in 0..<MountConcurrencyTests.writesPerWriter {
            let offset = Int.random(in: 0..<MountConcurrencyTests.sharedSpan, using: &generator)
            let count = Int.random(in: 1...12_000, using: &generator)
            let id = Self.writeID(writer: writer, index: index)
            let data = (offset..<offset + count).map { Self.pattern(id, $0) }
            guard pwrite(shared, data, count, off_t(offset)) == count else {
                return fail("writer \(writer): shared write \(index): errno \(errno)")
            }
            writes.append(Write(offset: offset, count: count))

            let ownOffset = Int.random(in: 0...model.count + 3000, using: &generator)
            let ownData = bytes(Int.random(in: 1...9000, using: &generator), seed: generator.next())
            guard pwrite(own, ownData, ownData.count, off_t(ownOffset)) == ownData.count else {
                return fail("writer \(writer): own write \(index): errno \(errno)")
            }
            if model.count < ownOffset + ownData.count {
                model += [UInt8](repeating: 0, count: ownOffset + ownData.count - model.count)
            }
            model.replaceSubrange(ownOffset..<ownOffset + ownData.count, with: ownData)
        }
        lock.withLock {
            sharedWrites[writer] = writes
            ownModels[writer] = model
        }
    }

    /// Reads random ranges of the shared file while it is written: every
    /// read must succeed (the contents are judged at the end).
    func read(until stop: StopFlag, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let fd = open(volume.path("shared"), O_RDONLY)
        guard fd >= 0 else { return fail("reader: open: errno \(errno)") }
        defer { close(fd) }
        var reads = 0
        while !stop.isSet || reads == 0 {
            let offset = Int.random(in: 0..<MountConcurrencyTests.sharedSpan, using: &generator)
            var buffer = [UInt8](repeating: 0, count: Int.random(in: 1...20_000, using: &generator))
            guard pread(fd, &buffer, buffer.count, off_t(offset)) >= 0 else {
                return fail("reader: read: errno \(errno)")
            }
            reads += 1
        }
    }

    /// Moves every writer's own file back and forth while it is written.
    func rename(until stop: StopFlag) {
        var moved = false
        while !stop.isSet {
            for writer in 0..<MountConcurrencyTests.writers {
                let plain = volume.path("own\(writer)"), away = plain + ".moved"
                let result = moved ? Glibc.rename(away, plain) : Glibc.rename(plain, away)
                guard result == 0 else { return fail("rename own\(writer): errno \(errno)") }
            }
            moved.toggle()
        }
    }

    /// nil when some serial order of the shared writes, keeping each
    /// writer's program order, gives `final`; else what is wrong.
    func checkSerialisable(_ final: [UInt8]) -> String? {
        var all: [(id: Int, write: Write)] = []
        var edges: [Int: Set<Int>] = [:]
        for (writer, writes) in sharedWrites.enumerated() {
            for (index, write) in writes.enumerated() {
                let id = Self.writeID(writer: writer, index: index)
                all.append((id, write))
                if index > 0 { edges[Self.writeID(writer: writer, index: index - 1), default: []].insert(id) }
            }
        }
        let expectedSize = all.map(\.write.end).max() ?? 0
        guard final.count == expectedSize else { return "size \(final.count), expected \(expectedSize)" }
        // Spans between consecutive write boundaries are covered by the same
        // set of writes throughout, so one write must have won all of each.
        let boundaries = Set(all.flatMap { [$0.write.offset, $0.write.end] } + [0]).sorted()
        for (low, high) in zip(boundaries, boundaries.dropFirst()) {
            let covering = all.filter { $0.write.offset <= low && high <= $0.write.end }
            let span = final[low..<high]
            if covering.isEmpty {
                guard span.allSatisfy({ $0 == 0 }) else { return "bytes \(low)..<\(high) are written by no write" }
                continue
            }
            let winners = covering.filter { candidate in
                zip(low..<high, span).allSatisfy { Self.pattern(candidate.id, $0) == $1 }
            }
            guard !winners.isEmpty else { return "bytes \(low)..<\(high) match no single write: torn" }
            // A short span may match more than one write by chance; it then
            // says nothing about the order.
            guard winners.count == 1, let winner = winners.first else { continue }
            for loser in covering where loser.id != winner.id {
                edges[loser.id, default: []].insert(winner.id)
            }
        }
        return hasCycle(nodes: all.map(\.id), edges: edges) ? "no serial order gives this file" : nil
    }

    private func hasCycle(nodes: [Int], edges: [Int: Set<Int>]) -> Bool {
        var incoming: [Int: Int] = Dictionary(uniqueKeysWithValues: nodes.map { ($0, 0) })
        for targets in edges.values { for target in targets { incoming[target, default: 0] += 1 } }
        var ready = incoming.filter { $0.value == 0 }.map(\.key)
        var visited = 0
        while let node = ready.popLast() {
            visited += 1
            for target in edges[node] ?? [] {
                incoming[target]! -= 1
                if incoming[target] == 0 { ready.append(target) }
            }
        }
        return visited != nodes.count
    }
}
