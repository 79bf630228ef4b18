import Foundation
import KLBlock
import Testing
import KLTestSupport

/// Seeded random operations against an in-memory model. Set
/// KLFS_CIPHERFILE_SEED to replay a failure; every message carries the seed.
@Suite struct CipherFileModelTests {
    @Test(arguments: [(512, 20_000, 2), (4096, 5_000, 2), (4096, 2_000, 1)])
    func randomOperationsMatchTheModel(sectorBytes: Int, operations: Int, version: Int) throws {
        let seed = ProcessInfo.processInfo.environment["KLFS_CIPHERFILE_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: .min ... .max)
        var generator = SeededGenerator(seed: seed)
        let format = try CipherFileFixture.format(SectorSize(bytes: sectorBytes)!, version: version)
        let directory = try CipherFileFixture.Directory()
        let backing = try directory.backingFile("model")
        var file = try CipherFile.create(descriptor: backing.fd, format: format)
        var model: [UInt8] = []
        let span = 6 * sectorBytes

        for step in 0..<operations {
            let context = "seed \(seed) sector \(sectorBytes) version \(version) step \(step)"
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<40:
                let offset = Int.random(in: 0...(model.count + span / 2), using: &generator)
                let data = CipherFileFixture.randomBytes(Int.random(in: 0...span / 2, using: &generator),
                                                         using: &generator)
                #expect(try file.writeBytes(data, at: offset) == data.count, "\(context) write")
                CipherFileFixture.apply(write: data, at: offset, to: &model)
            case 40..<70:
                let offset = Int.random(in: 0...(model.count + sectorBytes), using: &generator)
                let count = Int.random(in: 0...span, using: &generator)
                let expected = Array(model.dropFirst(offset).prefix(count))
                guard try file.readBytes(count: count, at: offset) == expected else {
                    Issue.record("\(context): read \(offset)+\(count) differs from the model")
                    return
                }
            case 70..<82:
                let size = Int.random(in: 0...(model.count + span), using: &generator)
                try file.truncate(to: size)
                CipherFileFixture.apply(truncateTo: size, to: &model)
            case 82..<94:
                let data = CipherFileFixture.randomBytes(Int.random(in: 0...sectorBytes + 100, using: &generator),
                                                         using: &generator)
                let landed = try data.withUnsafeBytes { try file.append($0) }
                #expect(landed.offset == model.count, "\(context) append")
                model += data
            default:
                file = try CipherFile.open(descriptor: backing.fd, format: format)
            }
            if file.size != model.count {
                Issue.record("\(context): size \(file.size), model \(model.count)")
                return
            }
            if model.count > 64 * sectorBytes {
                try file.truncate(to: 8 * sectorBytes)
                CipherFileFixture.apply(truncateTo: 8 * sectorBytes, to: &model)
            }
        }
        #expect(try file.readAll() == model, "seed \(seed) final contents")
        #expect(try CipherFileFormatTests.decryptByTheDocument(backing.rawBytes(), masterKey: CipherFileFixture.rawKey) == model,
                "seed \(seed) OpenSSL view")
    }
}
