import ArgumentParser

/// `--type`: the image formats image mode knows.
enum ImageType: String, CaseIterable, ExpressibleByArgument {
    /// dm-crypt plain: no header, key from a hashed passphrase or a keyfile.
    case plain
    /// LUKS2: header, keyslots and data segment (docs/LUKS2.md).
    case luks2
}
