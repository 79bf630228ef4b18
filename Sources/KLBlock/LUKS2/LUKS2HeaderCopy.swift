/// One header copy (binary header + JSON area), checked as the
/// specification requires before any of it is believed.
struct LUKS2HeaderCopy {
    let binary: LUKS2BinaryHeader
    let json: LUKS2JSON
    let metadata: LUKS2Metadata

    /// Why a copy at some offset cannot be used.
    enum Problem: Error, Equatable {
        /// Nothing that looks like this copy is there.
        case noMagic
        case version(UInt16)
        case invalid(String)

        var text: String {
            switch self {
            case .noMagic: return "no header found"
            case .version(let version): return "version \(version)"
            case .invalid(let why): return why
            }
        }
    }

    /// Reads and checks the copy at `offset`.
    static func load(from file: LUKS2ImageFile, at offset: Int,
                     copy: LUKS2BinaryHeader.Copy) throws(LUKS2Error) -> Result<LUKS2HeaderCopy, Problem> {
        let first = try file.read(count: LUKS2Limits.binaryHeaderSize, at: offset)
        guard let binary = LUKS2BinaryHeader(bytes: first[...], copy: copy) else { return .failure(.noMagic) }
        guard binary.version == 2 else { return .failure(.version(binary.version)) }
        guard LUKS2Limits.headerSizes.contains(Int(clamping: binary.headerSize)) else {
            return .failure(.invalid("header size \(binary.headerSize) is not one the format allows"))
        }
        guard binary.headerOffset == UInt64(offset) else {
            return .failure(.invalid("header at \(offset) says it is at \(binary.headerOffset)"))
        }
        let whole = try file.read(count: Int(binary.headerSize), at: offset)
        guard whole.count == Int(binary.headerSize) else { return .failure(.invalid("truncated")) }
        do {
            return .success(try check(binary: binary, whole: whole))
        } catch {
            return .failure(.invalid(error.description))
        }
    }

    /// The checksum, then the JSON area.
    private static func check(binary: LUKS2BinaryHeader, whole: [UInt8]) throws(LUKS2Error) -> LUKS2HeaderCopy {
        let hash = try LUKS2Hash(named: binary.checksumAlgorithm)
        let stored = Array(whole[LUKS2BinaryHeader.checksumRange].prefix(hash.digestSize))
        guard checksum(of: whole, hash: hash) == stored else {
            throw .metadataInvalid("\(binary.checksumAlgorithm) checksum mismatch")
        }
        let area = whole[LUKS2Limits.binaryHeaderSize...]
        guard let end = area.firstIndex(of: 0) else { throw .metadataInvalid("JSON area is not NUL-terminated") }
        let json = try LUKS2JSON.parse(area[..<end])
        let metadata = try LUKS2Metadata(json: json)
        guard metadata.config.jsonSize == binary.headerSize - UInt64(LUKS2Limits.binaryHeaderSize) else {
            throw .metadataInvalid("config.json_size \(metadata.config.jsonSize) does not match header size \(binary.headerSize)")
        }
        return LUKS2HeaderCopy(binary: binary, json: json, metadata: metadata)
    }

    /// The checksum over the whole copy with the checksum field zeroed.
    static func checksum(of whole: [UInt8], hash: LUKS2Hash) -> [UInt8] {
        var zeroed = whole
        zeroed.replaceSubrange(LUKS2BinaryHeader.checksumRange,
                               with: [UInt8](repeating: 0, count: LUKS2BinaryHeader.checksumRange.count))
        var output = [UInt8](repeating: 0, count: hash.digestSize)
        zeroed.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { hash.digest([input], into: $0) }
        }
        return output
    }
}
