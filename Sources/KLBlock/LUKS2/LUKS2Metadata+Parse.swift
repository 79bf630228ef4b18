extension LUKS2Metadata {
    /// The typed view of the JSON tree; fails with the path of the first
    /// field that breaks the format.
    init(json: LUKS2JSON) throws(LUKS2Error) {
        let root = try LUKS2JSONObject(json, path: "metadata")
        keyslots = try Self.entries(root, "keyslots") { (id, object) throws(LUKS2Error) in try LUKS2Keyslot(id: id, object) }
        digests = try Self.entries(root, "digests") { (id, object) throws(LUKS2Error) in try LUKS2Digest(id: id, object) }
        segments = try Self.entries(root, "segments") { (id, object) throws(LUKS2Error) in try LUKS2Segment(id: id, object) }
        tokens = try Self.entries(root, "tokens") { (id, object) throws(LUKS2Error) in try LUKS2Token(id: id, object) }
        config = try LUKS2Config(root.object("config"))
    }

    /// An object keyed by decimal ids ("0", "1", …), each entry parsed by `parse`.
    private static func entries<T>(_ root: LUKS2JSONObject, _ key: String,
                                   _ parse: (Int, LUKS2JSONObject) throws(LUKS2Error) -> T) throws(LUKS2Error) -> [Int: T] {
        let container = try root.object(key)
        var result: [Int: T] = [:]
        for (name, value) in container.members {
            guard let id = Int(name), id >= 0, String(id) == name else {
                throw .metadataInvalid("\(container.path) has a non-numeric id \"\(name)\"")
            }
            result[id] = try parse(id, try LUKS2JSONObject(value, path: "\(container.path).\(name)"))
        }
        return result
    }
}

/// The ids in a list of decimal strings (a digest's keyslots, say).
private func ids(_ object: LUKS2JSONObject, _ key: String) throws(LUKS2Error) -> [Int] {
    var result: [Int] = []
    for text in try object.strings(key) {
        guard let id = Int(text), id >= 0 else { throw .metadataInvalid("\(object.path).\(key) holds \"\(text)\", not an id") }
        result.append(id)
    }
    return result
}

extension LUKS2Keyslot {
    init(id: Int, _ object: LUKS2JSONObject) throws(LUKS2Error) {
        self.id = id
        type = try object.string("type")
        keySize = try object.integer("key_size")
        if object.has("priority") {
            guard let priority = Priority(rawValue: try object.integer("priority")) else {
                throw .metadataInvalid("\(object.path).priority is not 0, 1 or 2")
            }
            self.priority = priority
        } else {
            priority = .normal
        }
        antiForensic = try object.optionalObject("af").map { (af) throws(LUKS2Error) in
            let type = try af.string("type")
            // Only the luks1 splitter has stripes and a hash.
            guard type == "luks1" else { return AntiForensic(type: type, stripes: 0, hash: "") }
            return AntiForensic(type: type, stripes: try af.integer("stripes"), hash: try af.string("hash"))
        }
        area = try object.optionalObject("area").map { (area) throws(LUKS2Error) in
            let type = try area.string("type")
            return Area(type: type, offset: try area.decimalString("offset"), size: try area.decimalString("size"),
                        encryption: try area.optionalString("encryption"),
                        keySize: area.has("key_size") ? try area.integer("key_size") : nil)
        }
        kdf = try object.optionalObject("kdf").map { (kdf) throws(LUKS2Error) in try LUKS2KDFParameters(kdf) }
    }
}

extension LUKS2KDFParameters {
    init(_ object: LUKS2JSONObject) throws(LUKS2Error) {
        let type = try object.string("type")
        switch type {
        case "pbkdf2":
            self = .pbkdf2(hash: try object.string("hash"), iterations: try object.integer("iterations"),
                           salt: try object.base64("salt"))
        case "argon2i", "argon2id":
            self = .argon2(LUKS2Argon2Variant(rawValue: type)!, time: try object.integer("time"),
                           memoryKiB: try object.integer("memory"), threads: try object.integer("cpus"),
                           salt: try object.base64("salt"))
        default:
            self = .unknown(type: type)
        }
    }
}

extension LUKS2Digest {
    init(id: Int, _ object: LUKS2JSONObject) throws(LUKS2Error) {
        self.id = id
        type = try object.string("type")
        keyslots = try ids(object, "keyslots")
        segments = try ids(object, "segments")
        // Only pbkdf2 digests are defined; another type keeps empty fields
        // and is refused by the support check.
        let isPBKDF2 = type == "pbkdf2"
        hash = isPBKDF2 ? try object.string("hash") : ""
        iterations = isPBKDF2 ? try object.integer("iterations") : 0
        salt = isPBKDF2 ? try object.base64("salt") : []
        value = isPBKDF2 ? try object.base64("digest") : []
    }
}

extension LUKS2Segment {
    init(id: Int, _ object: LUKS2JSONObject) throws(LUKS2Error) {
        self.id = id
        type = try object.string("type")
        offset = try object.decimalString("offset")
        size = try object.string("size") == "dynamic" ? .dynamic : .bytes(try object.decimalString("size"))
        let isCrypt = type == "crypt"
        ivTweak = isCrypt ? try object.decimalString("iv_tweak") : 0
        encryption = isCrypt ? try object.string("encryption") : ""
        sectorSize = isCrypt ? try object.integer("sector_size") : 0
        integrity = try object.optionalObject("integrity").map { (integrity) throws(LUKS2Error) in try integrity.string("type") }
        flags = object.has("flags") ? try object.strings("flags") : []
    }
}

extension LUKS2Token {
    init(id: Int, _ object: LUKS2JSONObject) throws(LUKS2Error) {
        self.id = id
        type = try object.string("type")
        keyslots = try ids(object, "keyslots")
    }
}

extension LUKS2Config {
    init(_ object: LUKS2JSONObject) throws(LUKS2Error) {
        jsonSize = try object.decimalString("json_size")
        keyslotsSize = try object.decimalString("keyslots_size")
        flags = object.has("flags") ? try object.strings("flags") : []
        mandatoryRequirements = try object.optionalObject("requirements").map { (requirements) throws(LUKS2Error) in
            requirements.has("mandatory") ? try requirements.strings("mandatory") : []
        } ?? []
    }
}
