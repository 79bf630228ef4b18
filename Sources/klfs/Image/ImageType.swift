import ArgumentParser

/// `--type`: the image formats image mode knows.
enum ImageType: String, CaseIterable, ExpressibleByArgument {
    /// dm-crypt plain: no header, key from a hashed passphrase or a keyfile.
    case plain
    /// LUKS2 (the on-disk format library is being built alongside; this
    /// build answers "not built yet").
    case luks2
}
