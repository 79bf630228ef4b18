import Foundation
import KLEngine
import Testing

/// One known-answer vector: a single data unit.
struct XTSVector: CustomStringConvertible {
    let name: String
    let key: [UInt8]
    let dataUnitNumber: UInt128
    let plaintext: [UInt8]
    let ciphertext: [UInt8]

    var description: String { name }
}

/// IEEE 1619-2007 Annex B, XTS-AES-256 vectors 10-14.
func ieeeVectors() throws -> [XTSVector] {
    struct File: Decodable {
        struct Vector: Decodable {
            let vector: Int
            let key1, key2, tweak_le128, plaintext, ciphertext: String
        }
        let vectors: [Vector]
    }
    let data = try Data(contentsOf: testVectorsDirectory.appendingPathComponent("ieee1619-xts-aes256.json"))
    return try JSONDecoder().decode(File.self, from: data).vectors.map {
        XTSVector(name: "IEEE 1619 vector \($0.vector)", key: bytes(hex: $0.key1 + $0.key2),
                  dataUnitNumber: dataUnitNumber(littleEndian: bytes(hex: $0.tweak_le128)),
                  plaintext: bytes(hex: $0.plaintext), ciphertext: bytes(hex: $0.ciphertext))
    }
}

/// NIST CAVP XTSGenAES256 (tweak given as 128-bit hex), every vector whose
/// data unit is a whole number of bytes, from both sections.
func nistVectors() throws -> [XTSVector] {
    let text = try String(contentsOf: testVectorsDirectory.appendingPathComponent("XTSGenAES256-tweak128hex.rsp"),
                          encoding: .utf8)
    var vectors: [XTSVector] = []
    var section = ""
    var fields: [String: String] = [:]
    func flush() {
        guard let count = fields["COUNT"], let bits = Int(fields["DataUnitLen"] ?? ""), bits % 8 == 0,
              let key = fields["Key"], let tweak = fields["i"], let pt = fields["PT"], let ct = fields["CT"]
        else { fields = [:]; return }
        vectors.append(XTSVector(name: "NIST \(section) COUNT \(count)", key: bytes(hex: key),
                                 dataUnitNumber: dataUnitNumber(littleEndian: bytes(hex: tweak)),
                                 plaintext: bytes(hex: pt), ciphertext: bytes(hex: ct)))
        fields = [:]
    }
    // The file has CRLF line ends: "\r\n" is one Character, so split on isNewline.
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
        let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("[") { flush(); section = line; continue }
        if line.isEmpty { flush(); continue }
        let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.count == 2 { fields[parts[0]] = parts[1] }
    }
    flush()
    return vectors
}

/// Both directions of every vector through one engine (EveryXTSKernelTests
/// runs this on each kernel).
func checkVectors(_ vectors: [XTSVector], on engine: any XTSEngine) throws {
    for vector in vectors {
        let key = try makeKey(engine, vector.key)
        let unit = vector.plaintext.count
        let encrypted = try key.crypt(.encrypt, vector.plaintext, dataUnitSize: unit,
                                      firstDataUnit: vector.dataUnitNumber)
        #expect(encrypted == vector.ciphertext, "\(engine.kind) on \(engine.kernelName): encrypt \(vector)")
        let decrypted = try key.crypt(.decrypt, vector.ciphertext, dataUnitSize: unit,
                                      firstDataUnit: vector.dataUnitNumber)
        #expect(decrypted == vector.plaintext, "\(engine.kind) on \(engine.kernelName): decrypt \(vector)")
    }
}

@Suite struct XTSVectorFileTests {
    @Test func theFilesHoldTheVectorsExpected() throws {
        #expect(try ieeeVectors().count == 5)
        // The file holds 500 vectors in each section; 300 of each have
        // whole-byte data units (256, 384 and 384 bits; 140 and 250 are not).
        #expect(try nistVectors().count == 600)
    }
}
