import Dispatch
import KLBlock
import Synchronization
import Testing
import KLTestSupport

@Suite struct CipherFileConcurrencyTests {
    static let threads = 4

    /// Each thread owns every 4th 700-byte stripe, so neighbouring stripes
    /// of different threads share 512-byte sectors, and the writes grow the
    /// file concurrently. Any lost read-modify-write shows as a stripe that
    /// differs from its owner's last write.
    @Test func disjointUnalignedWritersMatchASerialModel() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("disjoint")
        let file = try CipherFile.create(descriptor: backing.fd,
                                         format: CipherFileFixture.format(SectorSize(bytes: 512)!, engine: .keylockerSoft))
        let stripe = 700
        let stripes = 64
        let models = Mutex<[Int: [UInt8]]>([:])
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: Self.threads) { thread in
            var generator = SeededGenerator(seed: UInt64(thread) + 100)
            var owned: [Int: [UInt8]] = [:]
            for _ in 0..<400 {
                let index = Int.random(in: 0..<stripes / Self.threads, using: &generator) * Self.threads + thread
                let start = Int.random(in: 0..<stripe, using: &generator)
                let length = Int.random(in: 1...(stripe - start), using: &generator)
                let data = CipherFileFixture.randomBytes(length, using: &generator)
                do {
                    try file.writeBytes(data, at: index * stripe + start)
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
                var contents = owned[index] ?? []
                CipherFileFixture.apply(write: data, at: start, to: &contents)
                owned[index] = contents
            }
            models.withLock { $0.merge(owned) { first, _ in first } }
        }
        #expect(failures.load(ordering: .relaxed) == 0)

        var expected: [UInt8] = []
        for (index, contents) in models.withLock({ $0 }) {
            CipherFileFixture.apply(write: contents, at: index * stripe, to: &expected)
        }
        #expect(file.size == expected.count)
        #expect(try file.readAll() == expected)
    }

    /// Threads overwrite one unaligned multi-sector range, each write with
    /// its own byte, while a reader checks every read is one write whole.
    /// Each write is atomic, so the final range is uniform.
    @Test func overlappingWritersAreAtomic() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("overlap")
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format(SectorSize(bytes: 512)!))
        let range = 1234..<(1234 + 3 * 512 + 777)
        try file.writeBytes([UInt8](repeating: 0, count: range.count), at: range.lowerBound)
        let tornReads = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: Self.threads + 1) { thread in
            for round in 0..<300 {
                if thread == Self.threads {
                    let seen = (try? file.readBytes(count: range.count, at: range.lowerBound)) ?? []
                    if seen.count != range.count || Set(seen).count != 1 { tornReads.add(1, ordering: .relaxed) }
                } else {
                    let fill = UInt8(truncatingIfNeeded: thread * 64 + round % 64)
                    _ = try? file.writeBytes([UInt8](repeating: fill, count: range.count), at: range.lowerBound)
                }
            }
        }
        #expect(tornReads.load(ordering: .relaxed) == 0)
        let final = try file.readBytes(count: range.count + 10, at: range.lowerBound)
        #expect(final.count == range.count && Set(final).count == 1)
    }

    /// Appends from several threads never overlap: every record lands whole
    /// at the offset append returned.
    @Test func concurrentAppendsNeverOverlap() throws {
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("appends")
        let file = try CipherFile.create(descriptor: backing.fd, format: CipherFileFixture.format())
        let records = Mutex<[(offset: Int, fill: UInt8, count: Int)]>([])
        DispatchQueue.concurrentPerform(iterations: Self.threads) { thread in
            for round in 0..<200 {
                let fill = UInt8(thread * 50 + round % 50 + 1)
                let data = [UInt8](repeating: fill, count: 1 + (round * 37 + thread * 101) % 5000)
                if let landed = try? data.withUnsafeBytes({ try file.append($0) }) {
                    records.withLock { $0.append((landed.offset, fill, landed.count)) }
                }
            }
        }
        let all = records.withLock { $0 }.sorted { $0.offset < $1.offset }
        #expect(all.count == Self.threads * 200)
        #expect(file.size == all.reduce(0) { $0 + $1.count })
        let contents = try file.readAll()
        var next = 0
        for record in all {
            #expect(record.offset == next)
            #expect(contents[record.offset..<record.offset + record.count].allSatisfy { $0 == record.fill })
            next = record.offset + record.count
        }
    }
}
