import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import Testing

/// The master key's paper-backup text.
@Suite struct VolumeKeyTextTests {
    let key: SecretBytes = (0..<64).map { UInt8($0) }.withUnsafeBytes { try! SecretBytes(copying: $0) }

    func text(_ string: String) -> SecretBytes { secret(string) }

    @Test func formatIsFourLinesOfFourGroupsOfEightDigits() throws {
        let formatted = String(decoding: contents(try MasterKeyText.format(key)), as: UTF8.self)
        #expect(formatted == """
                00010203-04050607-08090a0b-0c0d0e0f-
                10111213-14151617-18191a1b-1c1d1e1f-
                20212223-24252627-28292a2b-2c2d2e2f-
                30313233-34353637-38393a3b-3c3d3e3f

            """)
    }

    @Test func formatThenParseRoundTripsRandomKeys() throws {
        for _ in 0..<50 {
            let random = try SecretBytes.random(count: 64)
            #expect(contents(try MasterKeyText.parse(MasterKeyText.format(random))) == contents(random))
        }
    }

    /// The key 00 01 ... 3f as plain hex.
    static let digits: String = (0..<64).map { String(format: "%02x", $0) }.joined()

    @Test(arguments: [
        digits,
        digits.uppercased().chunked(2).joined(separator: " "),
        digits.chunked(3).joined(separator: "-"),
        "  " + digits.chunked(8).joined(separator: "\r\n\t") + "\n",
    ])
    func anyGroupingParses(_ input: String) throws {
        #expect(contents(try MasterKeyText.parse(text(input))) == contents(key))
    }

    @Test func malformedTextIsRefused() {
        let digits = Self.digits
        #expect(volumeError { _ = try MasterKeyText.parse(text(String(digits.dropLast()))) }
                == .masterKeyMalformed("127 hex digits instead of 128"))
        #expect(volumeError { _ = try MasterKeyText.parse(text(digits + "0")) }
                == .masterKeyMalformed("129 hex digits instead of 128"))
        #expect(volumeError { _ = try MasterKeyText.parse(text("00g1" + digits)) }
                == .masterKeyMalformed("unexpected character at position 3"))
        #expect(volumeError { _ = try MasterKeyText.parse(text(digits.replacingOccurrences(of: "0a", with: "0:"))) } != nil)
    }

    @Test func hexDigitConversionsAgreeWithTheObviousOnes() {
        for nibble in UInt8(0)..<16 {
            #expect(MasterKeyText.hexDigit(nibble) == Array(String(nibble, radix: 16).utf8)[0])
        }
        for character in UInt8(0)...255 {
            let expected = UInt8(String(UnicodeScalar(character)), radix: 16)
            #expect(MasterKeyText.hexValue(character) == expected, "character \(character)")
        }
    }

    @Test func readsFromADescriptorAndRefusesTooMuchInput() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let formatted = contents(try MasterKeyText.format(key))
        _ = formatted.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        close(ends[1])
        #expect(contents(try MasterKeyText.read(from: ends[0])) == contents(key))
        close(ends[0])

        let directory = TemporaryDirectory()
        let big = directory.write("big", [UInt8](repeating: 0x30, count: MasterKeyText.inputLimit + 1))
        #expect(volumeError { _ = try MasterKeyText.read(fromFile: big) }
                == .masterKeyMalformed("longer than \(MasterKeyText.inputLimit) bytes"))
        #expect(volumeError { _ = try MasterKeyText.read(fromFile: directory.path + "/absent") }
                == .masterKeyUnreadable(errno: ENOENT))
    }

    @Test func writesTheFormattedTextToADescriptor() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        try MasterKeyText.write(key, to: ends[1])
        close(ends[1])
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
        close(ends[0])
        #expect(Array(buffer[..<count]) == contents(try MasterKeyText.format(key)))
    }
}

extension String {
    /// Pieces of `size` characters.
    func chunked(_ size: Int) -> [String] {
        stride(from: 0, to: count, by: size).map { start in
            let from = index(startIndex, offsetBy: start)
            return String(self[from..<(index(from, offsetBy: size, limitedBy: endIndex) ?? endIndex)])
        }
    }
}
