import Glibc
import KLEngine

/// Where a passphrase comes from. Never argv or the environment: both are
/// readable by other processes (/proc/PID/cmdline, /proc/PID/environ).
public enum PassphraseSource: Sendable, Equatable {
    /// /dev/tty, without echo.
    case terminal
    /// `--passfile FILE`: the file's first line.
    case file(path: String)
    /// `--extpass CMD`: the first line CMD prints, run with /bin/sh -c.
    case command(String)

    /// The passphrase in secret memory, owned by the caller, who wipes it.
    /// `confirm` asks twice on the terminal (init, a new passphrase in
    /// passwd); the other sources are read once.
    public func read(prompt: String = "Passphrase: ", confirm: Bool = false) throws(VolumeError) -> SecretBytes {
        switch self {
        case .terminal:
            let first = try TerminalPrompt.read(prompt: prompt)
            guard confirm else { return first }
            let second: SecretBytes
            do {
                second = try TerminalPrompt.read(prompt: "Repeat: ")
            } catch {
                first.wipe()
                throw error
            }
            // The repeated copy dies here; the first one goes to the caller.
            defer { second.wipe() }
            guard secretsEqual(first, second) else {
                first.wipe()
                throw .passphraseMismatch
            }
            return first
        case .file(let path):
            return try readPassfile(path)
        case .command(let command):
            return try ExternalPassCommand(command: command).run()
        }
    }

    private func readPassfile(_ path: String) throws(VolumeError) -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .passfileUnreadable(path: path, errno: errno) }
        defer { close(fd) }
        return try SecretLineReader { .passfileUnreadable(path: path, errno: $0) }.readLine(from: fd)
    }
}
