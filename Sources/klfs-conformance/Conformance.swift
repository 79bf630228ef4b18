import Glibc

/// klfs-conformance DIRECTORY [PREFIX...] | --list
///
/// Runs every check (or those whose names start with one of the PREFIXes)
/// in its own fresh subdirectory of DIRECTORY, named after the check, and
/// prints one line per check, in a fixed order:
///
///     rename.dir-over-empty-dir: rename=ok from=ENOENT to=dir
///
/// The lines hold what was observed (errno names, octal modes, uid:gid,
/// link counts, "changed" or not for timestamps), never inode numbers,
/// devices or absolute times, so the output of two filesystems can be
/// compared line by line. Run as root, the checks also act as a second user
/// (uid 65534) through the filesystem identity; run as anyone else, those
/// print "needs root". DIRECTORY keeps what the checks leave, for a look.
@main struct Conformance {
    static let checks: [Check] = ModeChecks.all + OwnershipChecks.all + SetgidDirectoryChecks.all
        + StickyDirectoryChecks.all + RenameChecks.all + LinkChecks.all + TimeChecks.all
        + ErrorChecks.all + SpecialFileChecks.all

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments == ["--list"] {
            for check in checks { emit(check.name, to: STDOUT_FILENO) }
            return
        }
        guard let directory = arguments.first, !directory.hasPrefix("-"),
              let absolute = realpath(directory, nil) else {
            emit("usage: klfs-conformance DIRECTORY [PREFIX...] | --list", to: STDERR_FILENO)
            exit(64)
        }
        let root = String(cString: absolute)
        free(absolute)
        let prefixes = arguments.dropFirst()
        for check in checks where prefixes.isEmpty || prefixes.contains(where: check.name.hasPrefix) {
            emit(check.resultLine(in: root), to: STDOUT_FILENO)
        }
    }

    /// Writes `line` unbuffered, so that a check that hangs or crashes
    /// shows where the run stopped.
    static func emit(_ line: String, to fd: Int32) {
        let text = line + "\n"
        _ = write(fd, text, text.utf8.count)
    }
}
