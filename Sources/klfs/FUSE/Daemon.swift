import ArgumentParser
import CFuse
import Foundation
import Glibc

/// Daemon mode: `klfs mount` forks; the child unlocks, mounts and serves,
/// and the parent exits once the child says the mount is ready, so the
/// mount is usable when the command returns. Forking first means every
/// secret (passphrase, engine, handles) exists only in the child.
enum Daemon {
    enum Role {
        /// The child: serve, and call `ready` once mounted.
        case child(Readiness)
        /// The parent: exit with this status (0 when the mount is ready,
        /// else the child's exit status; the child printed why).
        case parent(exitStatus: Int32)
    }

    /// Runs `serve` here (`foreground`, no readiness to report) or in a
    /// forked child; the parent exits with the child's readiness status.
    static func run(foreground: Bool, _ serve: (Readiness?) throws -> Void) throws {
        if foreground {
            try serve(nil)
            return
        }
        switch try fork() {
        case .parent(let status):
            throw ExitCode(status)
        case .child(let readiness):
            try serve(readiness)
        }
    }

    static func fork() throws(CommandFailure) -> Role {
        var ends: [Int32] = [-1, -1]
        // Close-on-exec, so that an --extpass command cannot hold the
        // parent waiting.
        guard pipe(&ends) == 0, fcntl(ends[0], F_SETFD, FD_CLOEXEC) == 0,
              fcntl(ends[1], F_SETFD, FD_CLOEXEC) == 0 else {
            throw CommandFailure(.internalError, "pipe: \(String(cString: strerror(errno)))")
        }
        let pid = Glibc.fork()
        guard pid >= 0 else {
            throw CommandFailure(.internalError, "fork: \(String(cString: strerror(errno)))")
        }
        if pid == 0 {
            cfuse_close_inherited_descriptors(ends[1])
            return .child(Readiness(fd: ends[1]))
        }
        close(ends[1])
        return .parent(exitStatus: waitForReadiness(of: pid, on: ends[0]))
    }

    /// One byte means ready; end of file means the child exited first.
    private static func waitForReadiness(of pid: pid_t, on fd: Int32) -> Int32 {
        var byte: UInt8 = 0
        var count: Int
        repeat { count = read(fd, &byte, 1) } while count < 0 && errno == EINTR
        close(fd)
        if count == 1 { return 0 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// How the child tells the parent that the mount is up.
    struct Readiness {
        let fd: Int32

        /// Leaves the terminal's session, points stdin, stdout and stderr
        /// at /dev/null (the parent's callers wait for them to close), and
        /// releases the parent.
        func signal() {
            setsid()
            chdir("/")
            let null = open("/dev/null", O_RDWR)
            if null >= 0 {
                for target in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] { dup2(null, target) }
                if null > STDERR_FILENO { close(null) }
            }
            var byte: UInt8 = 1
            _ = write(fd, &byte, 1)
            close(fd)
        }
    }
}
