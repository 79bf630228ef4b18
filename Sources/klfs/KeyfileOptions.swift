import ArgumentParser
import KLBlock

/// --keyfile, --keyfile-offset and --keyfile-size: cryptsetup's --key-file
/// options, `-` being standard input.
struct KeyfileOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the key from FILE (- for standard input). plain: its first 64 bytes are the key, unhashed; luks2: its bytes are the passphrase (cryptsetup's --key-file).",
                               valueName: "FILE"))
    var keyfile: String?

    @Option(help: "Skip this many bytes at the start of the keyfile.")
    var keyfileOffset = 0

    @Option(help: "Use at most this many bytes of the keyfile (after --keyfile-offset).")
    var keyfileSize: Int?

    func validate() throws {
        if keyfileOffset < 0 { throw ValidationError("--keyfile-offset must not be negative") }
        if let keyfileSize, keyfileSize < 1 { throw ValidationError("--keyfile-size must be positive") }
        if keyfile == nil && (keyfileOffset != 0 || keyfileSize != nil) {
            throw ValidationError("--keyfile-offset and --keyfile-size need --keyfile")
        }
    }

    /// Refuses a keyfile together with --passfile or --extpass.
    func requireAlone(besides passphrase: PassphraseOptions) throws {
        if keyfile != nil && (passphrase.passfile != nil || passphrase.extpass != nil) {
            throw ValidationError("--keyfile excludes --passfile and --extpass")
        }
    }

    /// The keyfile as a key source, nil without --keyfile.
    var source: ImageKeySource? {
        keyfile.map { .keyfile(path: $0 == "-" ? "/dev/stdin" : absolutePath($0), offset: keyfileOffset, sizeLimit: keyfileSize) }
    }
}
