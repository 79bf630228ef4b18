import ArgumentParser
import KLBlock
import KLEngine

struct UpgradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Convert a version 1 volume to format version 2 in place; no sector is rewritten.",
        discussion: """
            Replaces every file's header (sealing its size) and encrypts the user. extended attributes. \
            It checks the whole volume first and changes nothing when an entry cannot be converted \
            (exit 40, one line per entry). An interrupted upgrade loses nothing: mount refuses the volume \
            until `klfs upgrade` runs again and finishes it. The volume must not be mounted. \
            docs/CONFIG.md, "Upgrading a version 1 volume".
            """
    )

    @Argument(help: "The volume's cipher dir.")
    var cipherDir: String

    @OptionGroup var passphrase: PassphraseOptions

    func run() throws {
        try reportingFailures {
            let config = try Volume.info(cipherDir: cipherDir).config
            guard config.version == 1 || config.isUpgrading else {
                print("\(cipherDir) is already format version \(config.version): nothing to do.")
                return
            }
            try requireUnmounted()
            let engine = try makeEngine(.auto)
            // The passphrase dies in prepare.
            let upgrade = try VolumeUpgrade.prepare(cipherDir: cipherDir,
                                                    passphrase: try passphrase.source.read(prompt: "Passphrase: "),
                                                    engine: engine)
            let calls = BackingExtendedAttributeCalls()
            try requireNoProblems(try upgrade.survey(attributes: calls), changed: upgrade.resumes)
            let report = try upgrade.convert(attributes: calls)
            try requireNoProblems(report, changed: true)
            print(summary(report, resumed: upgrade.resumes))
        }
    }

    /// A mounted volume would go on writing version 1 headers under the
    /// upgrade.
    private func requireUnmounted() throws(CommandFailure) {
        let source = absolutePath(cipherDir)
        if let mount = MountTable().mounts.first(where: { $0.type == "fuse.klfs" && $0.source == source }) {
            throw CommandFailure(.alreadyMounted, "\(cipherDir) is mounted at \(mount.mountPoint); unmount it first")
        }
    }

    private func requireNoProblems(_ report: UpgradeReport, changed: Bool) throws(CommandFailure) {
        guard !report.problems.isEmpty else { return }
        for problem in report.problems { printError("klfs: upgrade: \(problem)") }
        let state = changed
            ? "the upgrade is not finished; fix these and run `klfs upgrade` again (mount refuses the volume until then)"
            : "nothing was changed"
        throw CommandFailure(.problemsFound, "\(report.problems.count) entries cannot be converted; \(state)")
    }

    private func summary(_ report: UpgradeReport, resumed: Bool) -> String {
        var lines = ["\(cipherDir) is now format version 2\(resumed ? " (an interrupted upgrade finished)" : ""): "
            + "\(report.headersConverted) file headers replaced, \(report.attributesConverted) extended attributes "
            + "encrypted, \(report.filesUnchanged) files already converted or empty."]
        if report.attributesOutsideUser > 0 {
            lines.append("\(report.attributesOutsideUser) extended attributes outside user. stay on the backing "
                + "files as they are; a version 2 mount does not show them.")
        }
        return lines.joined(separator: "\n")
    }
}
