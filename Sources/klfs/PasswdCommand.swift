import ArgumentParser
import KLBlock
import KLEngine

struct PasswdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Re-wrap the master key under a new passphrase; the data is not touched.",
        discussion: "klfs.conf is replaced atomically: an interrupted passwd leaves the old passphrase working."
    )

    @Argument(help: "The volume's cipher dir.")
    var cipherDir: String

    @OptionGroup(title: "Current passphrase") var old: PassphraseOptions

    @Option(help: ArgumentHelp("Read the new passphrase from the first line of FILE.", valueName: "FILE"))
    var newPassfile: String?

    @Option(help: ArgumentHelp("Read the new passphrase from the first line CMD prints.", valueName: "CMD"))
    var newExtpass: String?

    @OptionGroup var kdf: KDFOptions

    func validate() throws {
        if newPassfile != nil && newExtpass != nil {
            throw ValidationError("--new-passfile and --new-extpass exclude each other")
        }
    }

    func run() throws {
        try reportingFailures {
            let current = try old.source.read(prompt: "Old passphrase: ")
            let newSource: PassphraseSource = newPassfile.map { .file(path: $0) }
                ?? newExtpass.map { .command($0) } ?? .terminal
            let replacement: SecretBytes
            do {
                replacement = try newSource.read(prompt: "New passphrase: ", confirm: true)
            } catch {
                // The old passphrase dies here when the new one cannot be had.
                current.wipe()
                throw error
            }
            try Volume.changePassphrase(cipherDir: cipherDir, old: current, new: replacement, kdf: kdf.cost)
            print("Passphrase changed.")
        }
    }
}
