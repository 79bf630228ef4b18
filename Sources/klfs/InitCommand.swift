import ArgumentParser
import Foundation
import KLBlock
import KLEngine

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a volume in an empty CIPHERDIR and print its master key once.",
        discussion: "Asks for the passphrase twice on the terminal unless --passfile or --extpass is given."
    )

    @Argument(help: "An existing, empty directory that will hold klfs.conf and the encrypted files.")
    var cipherDir: String

    @Option(help: "Sector size in bytes: 512, 1024, 2048 or 4096.")
    var sectorSize: Int = SectorSize.default.bytes

    @Flag(help: "Store file names and symlink targets unencrypted, as volumes made before name encryption do.")
    var plaintextNames = false

    @OptionGroup var passphrase: PassphraseOptions
    @OptionGroup var kdf: KDFOptions

    func validate() throws {
        guard SectorSize(bytes: sectorSize) != nil else {
            throw ValidationError("--sector-size must be 512, 1024, 2048 or 4096")
        }
    }

    func run() throws {
        try reportingFailures {
            let secret = try passphrase.source.read(prompt: "New passphrase: ", confirm: true)
            let creation = try Volume.create(cipherDir: cipherDir, passphrase: secret,
                                             sectorSize: SectorSize(bytes: sectorSize)!,
                                             kdf: kdf.cost ?? .default,
                                             flags: plaintextNames ? [] : [VolumeConfig.encryptedNamesFlag])
            // The printed text of the master key dies when this scope ends.
            defer { creation.masterKeyText.wipe() }
            let names = plaintextNames ? "plaintext names" : "encrypted names"
            writeOut("Created a klfs volume in \(cipherDir): AES-256-XTS, \(sectorSize)-byte sectors, \(names).\n"
                     + "Your master key is:\n\n")
            try MasterKeyText.writeText(creation.masterKeyText, to: STDOUT_FILENO)
            writeOut("\nKeep it on paper, somewhere safe: with it, 'klfs mount --masterkey' opens\n"
                     + "the volume when the passphrase is lost. klfs will not show it again.\n")
        }
    }
}

/// Unbuffered, so it interleaves correctly with write(2) of secrets.
func writeOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
