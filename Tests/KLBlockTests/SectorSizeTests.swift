import Foundation
import KLBlock
import Testing

@Suite struct SectorSizeTests {
    @Test func onlyPowersOfTwoFrom512To4096AreSectorSizes() {
        #expect(SectorSize.allowed.allSatisfy { SectorSize(bytes: $0) != nil })
        for bad in [0, 256, 511, 513, 3000, 8192] { #expect(SectorSize(bytes: bad) == nil) }
    }

    @Test func decodingRefusesABadSectorSize() throws {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([SectorSize].self, from: Data("[1000]".utf8)) }
        #expect(try JSONDecoder().decode([SectorSize].self, from: Data("[512]".utf8)) == [SectorSize(bytes: 512)!])
    }
}
