/// A volume's sector size: the XTS data unit, a power of two from 512 to
/// 4096 bytes, chosen at init and fixed for the volume's life.
public struct SectorSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public static let allowed: [Int] = [512, 1024, 2048, 4096]
    public static let `default` = SectorSize(unchecked: 4096)

    public let bytes: Int

    /// nil unless `bytes` is one of ``allowed``.
    public init?(bytes: Int) {
        guard Self.allowed.contains(bytes) else { return nil }
        self.bytes = bytes
    }

    private init(unchecked bytes: Int) { self.bytes = bytes }

    public var description: String { "\(bytes)" }

    public init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer().decode(Int.self)
        guard let size = SectorSize(bytes: value) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "sector size \(value) is not a power of two from 512 to 4096"))
        }
        self = size
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}
