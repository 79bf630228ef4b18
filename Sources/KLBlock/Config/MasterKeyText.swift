import Glibc
import KLEngine

/// The master key as text for a paper backup (`init`) and for recovery
/// (`mount --masterkey`): hex in groups of 8 digits joined by "-", as
/// gocryptfs prints its key. Text and key live only in secret memory;
/// no Swift String ever holds them, and hex digits are converted without
/// secret-dependent branches or table lookups.
public enum MasterKeyText {
    static let digitsPerGroup = 8
    static let groupsPerLine = 4
    static let indent = 4
    /// Characters accepted between digits when parsing.
    static let separators: Set<UInt8> = [0x2D, 0x20, 0x09, 0x0A, 0x0D] // - space tab LF CR
    /// Parsing reads at most this much.
    static let inputLimit = 4096

    /// Four indented lines of four groups; every line but the last ends in
    /// "-" so that the lines pasted together still parse:
    ///
    ///     1a2b3c4d-...-...-...-
    ///     ...
    public static func format(_ key: SecretBytes) throws(VolumeError) -> SecretBytes {
        let digits = key.count * 2
        let groups = (digits + digitsPerGroup - 1) / digitsPerGroup
        let lines = (groups + groupsPerLine - 1) / groupsPerLine
        // Digits, a "-" between groups, then per line an indent and a newline.
        let size = digits + (groups - 1) + lines * (indent + 1)
        let text = try engineCall { () throws(EngineError) in try SecretBytes(count: size) }
        text.withUnsafeMutableBytes { out in
            key.withUnsafeBytes { bytes in
                var at = 0
                func put(_ byte: UInt8) { out[at] = byte; at += 1 }
                for group in 0..<groups {
                    if group % groupsPerLine == 0 { for _ in 0..<indent { put(0x20) } }
                    for digit in group * digitsPerGroup..<min((group + 1) * digitsPerGroup, digits) {
                        let byte = bytes[digit / 2]
                        put(hexDigit(digit % 2 == 0 ? byte >> 4 : byte & 0x0F))
                    }
                    let last = group == groups - 1
                    if !last { put(0x2D) }
                    if last || group % groupsPerLine == groupsPerLine - 1 { put(0x0A) }
                }
                precondition(at == out.count)
            }
        }
        return text
    }

    /// Writes ``format(_:)``'s text to `fd` (stdout for init).
    public static func write(_ key: SecretBytes, to fd: Int32) throws(VolumeError) {
        let text = try format(key)
        // The text dies here.
        defer { text.wipe() }
        try writeText(text, to: fd)
    }

    /// Writes text that ``format(_:)`` made (init's ``VolumeCreation``)
    /// straight from secret memory to `fd`.
    public static func writeText(_ text: SecretBytes, to fd: Int32) throws(VolumeError) {
        let status = text.withUnsafeBytes { POSIXIO.writeAll(fd, $0) }
        guard status == 0 else { throw .masterKeyUnwritable(errno: status) }
    }

    /// The 64-byte key in `text`: exactly 128 hex digits (either case),
    /// with any of "-", spaces, tabs and newlines anywhere between them.
    public static func parse(_ text: SecretBytes) throws(VolumeError) -> SecretBytes {
        let size = WrappedMasterKey.masterKeySize
        let key = try engineCall { () throws(EngineError) in try SecretBytes(count: size) }
        let digits = key.withUnsafeMutableBytes { out in
            text.withUnsafeBytes { input in decodeHex(input, into: out) }
        }
        switch digits {
        case .success(size * 2):
            return key
        case .success(let count):
            key.wipe()
            throw .masterKeyMalformed("\(count) hex digits instead of \(size * 2)")
        case .failure(let position):
            key.wipe()
            throw .masterKeyMalformed("unexpected character at position \(position.offset + 1)")
        }
    }

    /// Reads all of `fd` (stdin, say) and parses it.
    public static func read(from fd: Int32) throws(VolumeError) -> SecretBytes {
        let buffer = try engineCall { () throws(EngineError) in try SecretBytes(count: inputLimit + 1) }
        // The text as read dies here, on every path.
        defer { buffer.wipe() }
        let count = buffer.withUnsafeMutableBytes { POSIXIO.readFully(fd, into: $0) }
        guard count >= 0 else { throw .masterKeyUnreadable(errno: Int32(-count)) }
        guard count <= inputLimit else { throw .masterKeyMalformed("longer than \(inputLimit) bytes") }
        guard count > 0 else { throw .masterKeyMalformed("no input") }
        let text = try engineCall { () throws(EngineError) in
            try buffer.withUnsafeBytes { bytes throws(EngineError) in
                try SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[..<count]))
            }
        }
        // The exact-size copy dies here; the key goes to the caller.
        defer { text.wipe() }
        return try parse(text)
    }

    /// Reads a file holding the key text.
    public static func read(fromFile path: String) throws(VolumeError) -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .masterKeyUnreadable(errno: errno) }
        defer { close(fd) }
        return try read(from: fd)
    }

    struct BadCharacter: Error { let offset: Int }

    /// Decodes hex digits into `out` (stopping at its end); returns how
    /// many digits the text held.
    private static func decodeHex(_ input: UnsafeRawBufferPointer,
                                  into out: UnsafeMutableRawBufferPointer) -> Result<Int, BadCharacter> {
        var digits = 0
        for offset in 0..<input.count {
            let character = input[offset]
            // Where the separators are is not secret; the digits are.
            if separators.contains(character) { continue }
            guard let nibble = hexValue(character) else { return .failure(BadCharacter(offset: offset)) }
            if digits < out.count * 2 {
                let index = digits / 2
                out[index] = digits % 2 == 0 ? nibble << 4 : out[index] | nibble
            }
            digits += 1
        }
        return .success(digits)
    }

    /// "0"-"9", "a"-"f" for 0...15, with arithmetic instead of a table.
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        let n = Int32(nibble)
        // (9 - n) >> 31 is all ones exactly when n > 9: add the gap to "a".
        return UInt8(truncatingIfNeeded: n + 0x30 + (((9 - n) >> 31) & 0x27))
    }

    /// The value of a hex digit of either case, nil for anything else;
    /// the only branch is on validity.
    static func hexValue(_ character: UInt8) -> UInt8? {
        let c = Int32(character)
        let decimal = c ^ 0x30                      // "0"-"9" -> 0-9
        let isDecimal = ((decimal - 10) >> 8) & 1   // decimal < 10
        let letter = (c & ~0x20) - 0x37             // "A"-"F", "a"-"f" -> 10-15
        let isLetter = (((letter - 10) ^ (letter - 16)) >> 8) & 1 // 10 <= letter < 16
        guard isDecimal | isLetter == 1 else { return nil }
        return UInt8(truncatingIfNeeded: (decimal & -isDecimal) | (letter & -isLetter))
    }
}
