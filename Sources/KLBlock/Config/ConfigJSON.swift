import Foundation

/// klfs.conf as JSON. Parsing checks structure, types, encodings and sizes
/// and says which field is wrong; the cryptographic checks come later.
extension VolumeConfig {
    /// The file's bytes: pretty-printed, keys sorted, newline-terminated.
    func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and integers cannot fail.
        let data = try! encoder.encode(ConfigDocument(self))
        return Array(data) + [0x0A]
    }

    init(json: [UInt8]) throws(VolumeError) {
        let data = Data(json)
        let probe = try decodeConfig(VersionProbe.self, from: data)
        guard Self.supportedVersions.contains(probe.version) else { throw .unsupportedVersion(probe.version) }
        try self.init(try decodeConfig(ConfigDocument.self, from: data))
    }

    private init(_ document: ConfigDocument) throws(VolumeError) {
        guard document.kdf.algorithm == PasswordKDF.algorithmName else {
            throw .configCorrupt("kdf.algorithm \"\(document.kdf.algorithm)\" is not \(PasswordKDF.algorithmName)")
        }
        guard document.masterKey.algorithm == WrappedMasterKey.algorithmName else {
            throw .configCorrupt("masterKey.algorithm \"\(document.masterKey.algorithm)\" is not \(WrappedMasterKey.algorithmName)")
        }
        guard let sectorSize = SectorSize(bytes: document.sectorSize) else {
            throw .configCorrupt("sectorSize \(document.sectorSize) is not one of \(SectorSize.allowed)")
        }
        self.version = document.version
        self.kdf = PasswordKDF(
            cost: Argon2idCost(opslimit: document.kdf.opslimit, memlimit: document.kdf.memlimit),
            salt: try decodeBase64(document.kdf.salt, field: "kdf.salt", size: PasswordKDF.saltSize))
        self.masterKey = WrappedMasterKey(
            nonce: try decodeBase64(document.masterKey.nonce, field: "masterKey.nonce",
                                    size: WrappedMasterKey.nonceSize),
            ciphertext: try decodeBase64(document.masterKey.ciphertext, field: "masterKey.ciphertext",
                                         size: WrappedMasterKey.ciphertextSize),
            check: try decodeBase64(document.masterKey.check, field: "masterKey.check",
                                    size: WrappedMasterKey.checkSize))
        self.sectorSize = sectorSize
        self.featureFlags = document.featureFlags
    }
}

/// The JSON shape, field for field.
private struct ConfigDocument: Codable {
    struct KDF: Codable {
        var algorithm: String
        var opslimit: UInt64
        var memlimit: UInt64
        var salt: String
    }

    struct MasterKey: Codable {
        var algorithm: String
        var nonce: String
        var ciphertext: String
        var check: String
    }

    var version: Int
    var kdf: KDF
    var masterKey: MasterKey
    var sectorSize: Int
    var featureFlags: [String]

    init(_ config: VolumeConfig) {
        version = config.version
        kdf = KDF(algorithm: PasswordKDF.algorithmName, opslimit: config.kdf.cost.opslimit,
                  memlimit: config.kdf.cost.memlimit, salt: Data(config.kdf.salt).base64EncodedString())
        masterKey = MasterKey(algorithm: WrappedMasterKey.algorithmName,
                              nonce: Data(config.masterKey.nonce).base64EncodedString(),
                              ciphertext: Data(config.masterKey.ciphertext).base64EncodedString(),
                              check: Data(config.masterKey.check).base64EncodedString())
        sectorSize = config.sectorSize.bytes
        featureFlags = config.featureFlags
    }
}

/// Read first, alone, so that a later version's different shape is
/// reported as a version problem rather than as corruption.
private struct VersionProbe: Decodable {
    var version: Int
}

private func decodeConfig<T: Decodable>(_ type: T.Type, from data: Data) throws(VolumeError) -> T {
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch let error as DecodingError {
        throw .configCorrupt(explain(error))
    } catch {
        throw .configCorrupt("\(error)")
    }
}

private func explain(_ error: DecodingError) -> String {
    func field(_ path: [any CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
    switch error {
    case .keyNotFound(let key, let context):
        return "missing field \(field(context.codingPath + [key]))"
    case .valueNotFound(_, let context):
        return "field \(field(context.codingPath)) is null"
    case .typeMismatch(let type, let context):
        return "field \(field(context.codingPath)) is not a valid \(type)"
    case .dataCorrupted(let context) where context.codingPath.isEmpty:
        return "not valid JSON (truncated?)"
    case .dataCorrupted(let context):
        return "field \(field(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}

private func decodeBase64(_ text: String, field: String, size: Int) throws(VolumeError) -> [UInt8] {
    guard let data = Data(base64Encoded: text) else { throw .configCorrupt("\(field) is not base64") }
    guard data.count == size else {
        throw .configCorrupt("\(field) holds \(data.count) bytes instead of \(size)")
    }
    return Array(data)
}
