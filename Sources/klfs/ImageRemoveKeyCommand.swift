import ArgumentParser
import KLBlock

/// `klfs image remove-key`: cryptsetup's luksKillSlot.
struct ImageRemoveKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-key",
        abstract: "Remove a LUKS2 keyslot (cryptsetup luksKillSlot): its header entry, then its key material.",
        discussion: """
            No passphrase is asked: write access to the image is what removing takes, as with \
            'cryptsetup luksKillSlot --batch-mode'. The last keyslot is kept unless --force \
            (without a keyslot the image can never be opened again).
            """
    )

    @Argument(help: "The LUKS2 image.")
    var image: String

    @Option(name: .customLong("key-slot"), help: "The keyslot to remove, 0 to 31.")
    var keySlot: Int

    @Flag(help: "Remove the last keyslot too, making the image unopenable.")
    var force = false

    func run() throws {
        try reportingFailures {
            let file = try LUKS2ImageFile(path: image, writable: true)
            _ = try LUKS2Header.read(from: file).removeKeyslot(keySlot, force: force, in: file)
            print("Key slot \(keySlot) removed.")
        }
    }
}
