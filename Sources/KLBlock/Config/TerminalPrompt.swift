import Glibc
import KLEngine

/// A passphrase typed on the controlling terminal with echo turned off.
enum TerminalPrompt {
    static func read(prompt: String) throws(VolumeError) -> SecretBytes {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw .terminalUnavailable(errno: errno) }
        defer { close(fd) }
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { throw .terminalUnavailable(errno: errno) }
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        guard tcsetattr(fd, TCSAFLUSH, &silent) == 0 else { throw .terminalUnavailable(errno: errno) }
        defer {
            tcsetattr(fd, TCSAFLUSH, &saved)
            // The typed newline was not echoed.
            writeText("\n", to: fd)
        }
        writeText(prompt, to: fd)
        return try SecretLineReader { .terminalUnavailable(errno: $0) }.readLine(from: fd)
    }

    private static func writeText(_ text: String, to fd: Int32) {
        var text = text
        _ = text.withUTF8 { POSIXIO.writeAll(fd, UnsafeRawBufferPointer($0)) }
    }
}
