extension LUKS2Header {
    /// The header as text in the layout of `cryptsetup luksDump`, plus the
    /// state of each copy. Salts and digests are public; no key material
    /// is read to produce it.
    public func dump() -> String {
        var lines = [
            "LUKS header information",
            "Version:       \t2",
            "Epoch:         \t\(sequenceID)",
            "Metadata area: \t\(headerSize) [bytes]",
            "Keyslots area: \t\(metadata.config.keyslotsSize) [bytes]",
            "UUID:          \t\(uuid)",
            "Label:         \t\(label.isEmpty ? "(no label)" : label)",
            "Subsystem:     \t\(subsystem.isEmpty ? "(no subsystem)" : subsystem)",
            "Flags:       \t\(metadata.config.flags.isEmpty ? "(no flags)" : metadata.config.flags.joined(separator: " "))",
            "Header copies: \tprimary \(primary), secondary \(secondary)",
        ]
        if !metadata.config.mandatoryRequirements.isEmpty {
            lines.append("Requirements:  \t\(metadata.config.mandatoryRequirements.joined(separator: " "))")
        }
        lines += ["", "Data segments:"]
        for segment in metadata.segments.values.sorted(by: { $0.id < $1.id }) { lines += segment.dumpLines }
        lines += ["", "Keyslots:"]
        for keyslot in metadata.keyslots.values.sorted(by: { $0.id < $1.id }) {
            let digest = metadata.digests.values.sorted(by: { $0.id < $1.id }).first { $0.keyslots.contains(keyslot.id) }
            lines += keyslot.dumpLines(digest: digest?.id)
        }
        lines.append("Tokens:")
        for token in metadata.tokens.values.sorted(by: { $0.id < $1.id }) {
            lines += ["  \(token.id): \(token.type)", "\tKeyslot:    \(token.keyslots.map(String.init).joined(separator: " "))"]
        }
        lines.append("Digests:")
        for digest in metadata.digests.values.sorted(by: { $0.id < $1.id }) { lines += digest.dumpLines }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Hex bytes 16 to a line, continuation lines indented to the first value.
private func hexLines(_ label: String, _ bytes: [UInt8]) -> [String] {
    let rows = stride(from: 0, to: max(bytes.count, 1), by: 16).map { start in
        bytes[start..<min(start + 16, bytes.count)].map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: " ") + " "
    }
    return rows.enumerated().map { index, row in
        index == 0 ? "\t\(label)\(row)" : "\t            \(row)"
    }
}

extension LUKS2Segment {
    var dumpLines: [String] {
        var lines = ["  \(id): \(type)", "\toffset: \(offset) [bytes]"]
        switch size {
        case .dynamic: lines.append("\tlength: (whole device)")
        case .bytes(let bytes): lines.append("\tlength: \(bytes) [bytes]")
        }
        guard type == "crypt" else { return lines }
        lines.append("\tcipher: \(encryption)")
        lines.append("\tsector: \(sectorSize) [bytes]")
        if ivTweak != 0 { lines.append("\tiv_tweak: \(ivTweak)") }
        if let integrity { lines.append("\tintegrity: \(integrity)") }
        if !flags.isEmpty { lines.append("\tflags : \(flags.joined(separator: " "))") }
        return lines
    }
}

extension LUKS2Keyslot {
    func dumpLines(digest: Int?) -> [String] {
        let priorityName = [Priority.ignore: "ignored", .normal: "normal", .high: "high"][priority]!
        var lines = ["  \(id): \(type)", "\tKey:        \(keySize * 8) bits", "\tPriority:   \(priorityName)"]
        if let area, let encryption = area.encryption {
            lines.append("\tCipher:     \(encryption)")
            if let areaKeySize = area.keySize { lines.append("\tCipher key: \(areaKeySize * 8) bits") }
        }
        switch kdf {
        case .pbkdf2(let hash, let iterations, let salt)?:
            lines += ["\tPBKDF:      pbkdf2", "\tHash:       \(hash)", "\tIterations: \(iterations)"] + hexLines("Salt:       ", salt)
        case .argon2(let variant, let time, let memoryKiB, let threads, let salt)?:
            lines += ["\tPBKDF:      \(variant.rawValue)", "\tTime cost:  \(time)", "\tMemory:     \(memoryKiB)",
                      "\tThreads:    \(threads)"] + hexLines("Salt:       ", salt)
        case .unknown(let type)?:
            lines.append("\tPBKDF:      \(type)")
        case nil:
            break
        }
        if let af = antiForensic, af.type == "luks1" {
            lines += ["\tAF stripes: \(af.stripes)", "\tAF hash:    \(af.hash)"]
        }
        if let area { lines += ["\tArea offset:\(area.offset) [bytes]", "\tArea length:\(area.size) [bytes]"] }
        if let digest { lines.append("\tDigest ID:  \(digest)") }
        return lines
    }
}

extension LUKS2Digest {
    var dumpLines: [String] {
        var lines = ["  \(id): \(type)"]
        guard type == "pbkdf2" else { return lines }
        lines += ["\tHash:       \(hash)", "\tIterations: \(iterations)"]
        lines += hexLines("Salt:       ", salt) + hexLines("Digest:     ", value)
        return lines
    }
}
