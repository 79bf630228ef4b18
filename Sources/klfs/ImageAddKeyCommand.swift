import ArgumentParser
import KLBlock

/// `klfs image add-key`: cryptsetup's luksAddKey.
struct ImageAddKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-key",
        abstract: "Add a LUKS2 keyslot for a new passphrase (cryptsetup luksAddKey).",
        discussion: """
            An existing passphrase (--passfile, --extpass or --keyfile and its offset and size; the terminal \
            otherwise) opens the \
            volume key, which the new keyslot then holds under the new passphrase (--new-passfile, \
            --new-extpass; the terminal, asked twice, otherwise). The lowest free keyslot unless --key-slot. \
            Works on a mounted image: the mount keeps its key.
            """
    )

    @Argument(help: "The LUKS2 image.")
    var image: String

    @OptionGroup var keySlot: KeySlotOption

    @OptionGroup var passphrase: PassphraseOptions

    @OptionGroup var keyfile: KeyfileOptions

    @Option(help: ArgumentHelp("Read the new passphrase from the first line of FILE.", valueName: "FILE"))
    var newPassfile: String?

    @Option(help: ArgumentHelp("Run CMD with /bin/sh -c and read the new passphrase from the first line it prints.",
                               valueName: "CMD"))
    var newExtpass: String?

    @OptionGroup var kdf: LUKS2KDFOptions

    func validate() throws {
        try keyfile.requireAlone(besides: passphrase)
        if newPassfile != nil && newExtpass != nil { throw ValidationError("--new-passfile and --new-extpass exclude each other") }
    }

    func run() throws {
        try reportingFailures {
            let file = try LUKS2ImageFile(path: image, writable: true)
            let header = try LUKS2Header.read(from: file)
            _ = try header.metadata.requireSupported()
            let existingSource = keyfile.source ?? .passphrase(passphrase.source)
            let existing = try existingSource.readSecret()
            // The existing passphrase dies here, once it has opened the volume key.
            defer { existing.wipe() }
            let newSource: PassphraseSource = newPassfile.map { .file(path: $0) } ?? newExtpass.map { .command($0) } ?? .terminal
            let new = try newSource.read(prompt: "New passphrase: ", confirm: true)
            // The new passphrase dies here, once its keyslot is written.
            defer { new.wipe() }
            let added = try header.addKeyslot(passphrase: new, authority: .passphrase(existing), kdf: kdf.keyslotKDF,
                                              keyslot: keySlot.number, in: file)
            print("Key slot \(added.keyslot) created.")
        }
    }
}
