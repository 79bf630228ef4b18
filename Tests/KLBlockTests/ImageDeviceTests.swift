import Dispatch
import Foundation
import Glibc
import KLBlock
import KLEngine
import KLTestSupport
import Synchronization
import Testing

/// The plaintext device over a real image file, checked against OpenSSL's
/// AES-256-XTS sector by sector with dm-crypt's IV rules, and against a
/// reference model under concurrent writers.
@Suite struct ImageDeviceTests {
    struct Case: CustomStringConvertible, Sendable {
        let sectorSize: Int
        let offset: UInt64
        let skip: UInt64
        let largeSectors: Bool
        var description: String { "sector \(sectorSize) offset \(offset) skip \(skip) large \(largeSectors)" }
    }

    static let cases = [Case(sectorSize: 512, offset: 0, skip: 0, largeSectors: false),
                        Case(sectorSize: 512, offset: 3, skip: 1000, largeSectors: false),
                        Case(sectorSize: 4096, offset: 16, skip: 40, largeSectors: false),
                        Case(sectorSize: 4096, offset: 8, skip: 64, largeSectors: true),
                        // plain64 wraps to 0 at 2^64 in the middle of the device.
                        Case(sectorSize: 512, offset: 0, skip: UInt64.max - 99, largeSectors: false),
                        Case(sectorSize: 4096, offset: 0, skip: UInt64.max - 75, largeSectors: false),
                        Case(sectorSize: 4096, offset: 0, skip: UInt64.max - 75, largeSectors: true)]

    /// Unaligned writes through the device; then every sector of the image
    /// decrypts with OpenSSL, under the IV dm-crypt gives it, to the model.
    @Test(arguments: cases)
    func sectorsDecryptWithOpenSSL(_ testCase: Case) throws {
        let fixture = try ImageFixture(size: 256 << 10, testCase)
        defer { fixture.remove() }
        var model = [UInt8](repeating: 0, count: try fixture.device.size())
        _ = try model.withUnsafeMutableBytes { try fixture.device.write(UnsafeRawBufferPointer($0), at: 0) }
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            let start = Int.random(in: 0..<model.count - 1, using: &generator)
            let length = Int.random(in: 1...min(9000, model.count - start), using: &generator)
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let wrote = try data.withUnsafeBytes { try fixture.device.write($0, at: start) }
            #expect(wrote == length)
            model.replaceSubrange(start..<start + length, with: data)
        }
        #expect(try fixture.readAll() == model)
        #expect(try fixture.decryptImageWithOpenSSL() == model)
    }

    /// Four threads write overlapping unaligned ranges of their own bytes
    /// (every 4th 300-byte stripe, so neighbours share sectors); a lost
    /// read-modify-write shows as a stripe that is not its owner's last write.
    @Test func concurrentWritersMatchTheModel() throws {
        let fixture = try ImageFixture(size: 512 << 10, Self.cases[1])
        defer { fixture.remove() }
        let stripe = 300, threads = 4
        let stripes = try fixture.device.size() / stripe / threads * threads
        let models = Mutex<[Int: [UInt8]]>([:])
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var generator = SeededGenerator(seed: UInt64(thread) + 1)
            var owned: [Int: [UInt8]] = [:]
            for _ in 0..<500 {
                let index = Int.random(in: 0..<stripes / threads, using: &generator) * threads + thread
                let data = (0..<stripe).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let wrote = (try? data.withUnsafeBytes { try fixture.device.write($0, at: index * stripe) }) ?? -1
                if wrote != stripe { failures.add(1, ordering: .relaxed) }
                owned[index] = data
                var check = [UInt8](repeating: 0, count: stripe)
                let read = (try? check.withUnsafeMutableBytes { try fixture.device.read(into: $0, at: index * stripe) }) ?? -1
                if read != stripe || check != data { failures.add(1, ordering: .relaxed) }
            }
            models.withLock { $0.merge(owned) { first, _ in first } }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        let contents = try fixture.readAll()
        for (index, data) in models.withLock({ $0 }) {
            #expect(Array(contents[index * stripe..<(index + 1) * stripe]) == data, "stripe \(index)")
        }
        #expect(try fixture.decryptImageWithOpenSSL() == contents)
    }

    /// Discard punches holes: the image's allocated blocks drop, and the
    /// discarded sectors read as zero ciphertext decrypted (not zeros), as
    /// dm-crypt's do; the sectors around keep their data.
    @Test func discardPunchesHoles() throws {
        let fixture = try ImageFixture(size: 1 << 20, Self.cases[0])
        defer { fixture.remove() }
        let data = [UInt8](repeating: 0x5A, count: 1 << 20)
        _ = try data.withUnsafeBytes { try fixture.device.write($0, at: 0) }
        try fixture.device.sync()
        let before = try fixture.allocatedBytes()
        try fixture.device.discard(offset: 100, length: 600 << 10)
        #expect(try fixture.allocatedBytes() < before - (500 << 10))
        let contents = try fixture.readAll()
        #expect(contents[0..<512] == data[0..<512], "the partial sector before the range stays")
        #expect(contents[(600 << 10) + 100..<(1 << 20)] == data[(600 << 10) + 100..<(1 << 20)])
        let discarded = Array(contents[512..<1024])
        #expect(discarded != [UInt8](repeating: 0, count: 512) && discarded != Array(data[0..<512]))
        #expect(try fixture.decryptImageWithOpenSSL() == contents)
    }

    /// The device follows the image: grown with truncate(1), it grows;
    /// resize sets the image's length; a fixed --size refuses resize.
    @Test func deviceSizeFollowsTheImage() throws {
        let fixture = try ImageFixture(size: 64 << 10, Self.cases[1])
        defer { fixture.remove() }
        let payload = 64 << 10 - 3 * 512
        #expect(try fixture.device.size() == payload)
        #expect(truncate(fixture.path, off_t(128 << 10)) == 0)
        #expect(try fixture.device.size() == (128 << 10) - 3 * 512)
        try fixture.device.resize(to: 1 << 20)
        #expect(try fixture.device.size() == 1 << 20)
        #expect(throws: ImageError.misalignedSize(1000, sectorSize: 512)) { try fixture.device.resize(to: 1000) }
        let byte: [UInt8] = [1]
        #expect(throws: ImageError.pastEnd(offset: 1 << 20, deviceSize: 1 << 20)) {
            _ = try byte.withUnsafeBytes { try fixture.device.write($0, at: 1 << 20) }
        }
    }
}

/// A plain image with a random key, opened on keylocker-soft; keeps the
/// raw key (a test's) for OpenSSL.
final class ImageFixture: @unchecked Sendable {
    let path: String
    let key: [UInt8]
    let testCase: ImageDeviceTests.Case
    let device: PlaintextDevice

    init(size: Int, _ testCase: ImageDeviceTests.Case) throws {
        path = NSTemporaryDirectory() + "klfs-image-\(UUID().uuidString)"
        self.testCase = testCase
        var generator = SystemRandomNumberGenerator()
        key = (0..<64).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try PlainImage.create(path: path, size: size, force: false)
        var parameters = PlainImage.Parameters()
        parameters.offset = testCase.offset
        parameters.skip = testCase.skip
        parameters.sectorSize = SectorSize(bytes: testCase.sectorSize)!
        parameters.ivLargeSectors = testCase.largeSectors
        let mapping = try ImageMapping(volumeKey: try key.withUnsafeBytes { try SecretBytes(copying: $0) },
                                       layout: try parameters.layout())
        let engine = try makeEngine(EngineKind.keylockerSoft)
        device = try PlaintextDevice(imagePath: path, layout: mapping.layout,
                                     key: try mapping.makeDeviceKey(with: engine), readOnly: false)
    }

    func remove() { unlink(path) }

    func readAll() throws -> [UInt8] {
        var contents = [UInt8](repeating: 0, count: try device.size())
        let count = try contents.withUnsafeMutableBytes { try device.read(into: $0, at: 0) }
        #expect(count == contents.count)
        return contents
    }

    /// The image's payload decrypted by OpenSSL with dm-crypt's IVs.
    func decryptImageWithOpenSSL() throws -> [UInt8] {
        let image = try Data(contentsOf: URL(fileURLWithPath: path))
        let payload = Array(image[Int(testCase.offset) * 512..<Int(testCase.offset) * 512 + (try device.size())])
        return DmCryptPlain64.decrypt(payload, key: key, sectorSize: testCase.sectorSize, ivOffset: testCase.skip,
                                      largeSectors: testCase.largeSectors)
    }

    func allocatedBytes() throws -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { throw POSIXError(.EIO) }
        return Int(status.st_blocks) * 512
    }
}
