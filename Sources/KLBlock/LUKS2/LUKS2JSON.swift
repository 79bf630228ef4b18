import Foundation

/// The LUKS2 JSON metadata as a tree. klfs keeps the whole tree, not only
/// the fields it models, so that a keyslot change on an image made by
/// cryptsetup writes back every field it does not know unchanged.
public indirect enum LUKS2JSON: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case string(String)
    case array([LUKS2JSON])
    case object([String: LUKS2JSON])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([LUKS2JSON].self) { self = .array(value) }
        else if let value = try? container.decode([String: LUKS2JSON].self) { self = .object(value) }
        else {
            // LUKS2 has no fractional numbers; one here is a broken header.
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an integer, string, array or object")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses the JSON area's text (the bytes before the first NUL).
    static func parse(_ bytes: ArraySlice<UInt8>) throws(LUKS2Error) -> LUKS2JSON {
        do {
            return try JSONDecoder().decode(LUKS2JSON.self, from: Data(bytes))
        } catch {
            throw .metadataInvalid("not JSON: \(error)")
        }
    }

    /// Compact UTF-8 text, keys sorted so that equal trees give equal bytes.
    func serialized() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, integers, arrays and objects always encode.
        return Array(try! encoder.encode(self))
    }

    subscript(key: String) -> LUKS2JSON? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }
}

/// Typed access to one JSON object, with errors that name the field's path
/// (`keyslots.0.kdf.salt`).
struct LUKS2JSONObject {
    let path: String
    let members: [String: LUKS2JSON]

    init(_ value: LUKS2JSON?, path: String) throws(LUKS2Error) {
        guard case .object(let members)? = value else { throw .metadataInvalid("\(path) is missing or not an object") }
        self.path = path
        self.members = members
    }

    func has(_ key: String) -> Bool { members[key] != nil }

    func object(_ key: String) throws(LUKS2Error) -> LUKS2JSONObject {
        try LUKS2JSONObject(members[key], path: "\(path).\(key)")
    }

    func optionalObject(_ key: String) throws(LUKS2Error) -> LUKS2JSONObject? {
        guard let value = members[key], value != .null else { return nil }
        return try LUKS2JSONObject(value, path: "\(path).\(key)")
    }

    func string(_ key: String) throws(LUKS2Error) -> String {
        guard case .string(let value)? = members[key] else { throw .metadataInvalid("\(path).\(key) is missing or not a string") }
        return value
    }

    func optionalString(_ key: String) throws(LUKS2Error) -> String? {
        guard members[key] != nil else { return nil }
        return try string(key)
    }

    /// Every JSON number in LUKS2 (key sizes, stripes, KDF costs, sector
    /// sizes, priorities) fits 32 bits; the bound keeps a hostile value from
    /// overflowing the arithmetic done with it.
    func integer(_ key: String) throws(LUKS2Error) -> Int {
        guard case .integer(let value)? = members[key], value >= 0, value <= Int64(UInt32.max) else {
            throw .metadataInvalid("\(path).\(key) is missing or not an integer from 0 to 2^32-1")
        }
        return Int(value)
    }

    /// The format writes 64-bit values (offsets, sizes) as decimal strings,
    /// because JSON numbers lose precision past 2^53 in many parsers.
    func decimalString(_ key: String) throws(LUKS2Error) -> UInt64 {
        let text = try string(key)
        guard let value = UInt64(text), text.allSatisfy(\.isASCII) else {
            throw .metadataInvalid("\(path).\(key) \"\(text)\" is not a decimal number")
        }
        return value
    }

    func strings(_ key: String) throws(LUKS2Error) -> [String] {
        guard case .array(let items)? = members[key] else { throw .metadataInvalid("\(path).\(key) is missing or not an array") }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw .metadataInvalid("\(path).\(key) holds a non-string") }
            result.append(text)
        }
        return result
    }

    func base64(_ key: String) throws(LUKS2Error) -> [UInt8] {
        let text = try string(key)
        guard let data = Data(base64Encoded: text) else { throw .metadataInvalid("\(path).\(key) is not base64") }
        return Array(data)
    }
}
