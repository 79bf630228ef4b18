import Foundation
import Glibc
import Testing

/// New entries get the modes the caller's umask gives, as on any local
/// filesystem: the kernel applies that umask before the request reaches
/// the daemon, so the daemon must not apply its own on top (issue 12).
@Suite struct MountUmaskTests {
    static let cases: [(umask: String, directory: mode_t, file: mode_t)] = [
        ("0", 0o777, 0o666), ("002", 0o775, 0o664), ("022", 0o755, 0o644), ("077", 0o700, 0o600),
    ]

    @Test(arguments: 0..<cases.count)
    func newEntriesTakeTheCallersUmaskOnly(_ index: Int) throws {
        let (mask, directoryMode, fileMode) = Self.cases[index]
        try withMountedVolume { volume in
            // A shell of its own: the umask is per process, and tests run
            // side by side in this one.
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/sh")
            shell.arguments = ["-c", "umask \(mask) && mkdir \"$1/d\" && : > \"$1/f\" && mkfifo \"$1/p\"", "sh",
                               volume.mountPoint]
            try shell.run()
            shell.waitUntilExit()
            #expect(shell.terminationStatus == 0)
            for (name, mode) in [("d", directoryMode), ("f", fileMode), ("p", fileMode)] {
                var status = stat()
                #expect(lstat(volume.path(name), &status) == 0)
                #expect(status.st_mode & 0o7777 == mode,
                        "umask \(mask): \(name) is \(String(status.st_mode & 0o7777, radix: 8))")
            }
        }
    }
}
