import Glibc
import KLEngine

/// `--extpass CMD`: runs CMD with /bin/sh -c, stdin and stderr inherited
/// (so it can prompt), and takes the first line of its stdout.
struct ExternalPassCommand {
    let command: String

    func run() throws(VolumeError) -> SecretBytes {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw failure("pipe: \(errorText(errno))") }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        // The child gets the write end as its stdout through dup2 only.
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        defer { close(readEnd) }
        let pid: pid_t
        do {
            pid = try spawn(stdout: writeEnd)
        } catch {
            close(writeEnd)
            throw error
        }
        // Only the child keeps the write end, so end of file means it is done.
        close(writeEnd)
        let line = Result { () throws(VolumeError) in
            try SecretLineReader { failure("reading its output: \(errorText($0))") }.readLine(from: readEnd, drain: true)
        }
        // A failed command's output is not trusted, whatever it printed.
        if let problem = waitForExit(pid) {
            // The line it printed, if any, dies here.
            if case .success(let passphrase) = line { passphrase.wipe() }
            throw failure(problem)
        }
        return try line.get()
    }

    private func spawn(stdout: Int32) throws(VolumeError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdout, STDOUT_FILENO)
        let arguments: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", command].map { (text: String) in strdup(text) }
        defer { arguments.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, "/bin/sh", &actions, nil, arguments + [nil], environ)
        guard status == 0 else { throw failure("cannot start /bin/sh: \(errorText(status))") }
        return pid
    }

    /// nil when the command exited with status 0, else what went wrong.
    private func waitForExit(_ pid: pid_t) -> String? {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return "waitpid: \(errorText(errno))" }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
        let signal = status & 0x7F
        if signal != 0 { return "killed by signal \(signal)" }
        let code = (status >> 8) & 0xFF
        return code == 0 ? nil : "exited with status \(code)"
    }

    private func failure(_ reason: String) -> VolumeError { .extpassFailed(command: command, reason: reason) }
}
