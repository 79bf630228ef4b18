import Foundation
import Glibc
@testable import KLBlock
import KLEngine
import Testing

/// --passfile and --extpass (the terminal needs a tty and is tried by hand).
@Suite struct VolumePassphraseSourceTests {
    @Test(arguments: [
        ("secret\n", "secret"),
        ("secret", "secret"),
        ("first line\nsecond line\n", "first line"),
        ("with \r\n", "with \r"),
        ("  spaces kept  \n", "  spaces kept  "),
    ])
    func passfileGivesItsFirstLine(_ file: String, _ expected: String) throws {
        let directory = TemporaryDirectory()
        let path = directory.write("pass", Array(file.utf8))
        #expect(contents(try PassphraseSource.file(path: path).read()) == Array(expected.utf8))
    }

    @Test func emptyPassfileIsRefused() {
        let directory = TemporaryDirectory()
        for file in ["", "\n", "\nsecond"] {
            let path = directory.write("pass", Array(file.utf8))
            #expect(volumeError { _ = try PassphraseSource.file(path: path).read() } == .emptyPassphrase)
        }
    }

    @Test func passfileProblemsAreReported() throws {
        let directory = TemporaryDirectory()
        let absent = directory.path + "/absent"
        #expect(volumeError { _ = try PassphraseSource.file(path: absent).read() }
                == .passfileUnreadable(path: absent, errno: ENOENT))
        #expect(volumeError { _ = try PassphraseSource.file(path: directory.path).read() }
                == .passfileUnreadable(path: directory.path, errno: EISDIR))
        let long = directory.write("long", [UInt8](repeating: 0x61, count: SecretLineReader.maximumLength + 1))
        #expect(volumeError { _ = try PassphraseSource.file(path: long).read() }
                == .passphraseTooLong(limit: SecretLineReader.maximumLength))
        let longest = directory.write("longest", [UInt8](repeating: 0x61, count: SecretLineReader.maximumLength) + [0x0A])
        #expect(try PassphraseSource.file(path: longest).read().count == SecretLineReader.maximumLength)
    }

    @Test(arguments: [
        ("echo secret", "secret"),
        ("printf 'no newline'", "no newline"),
        ("printf 'a\\nb\\n'", "a"),
        // Output after the first line is drained, so the command exits 0.
        ("echo pw; head -c 1000000 /dev/zero", "pw"),
        ("read line; echo \"$line\" </dev/null", ""),
    ])
    func extpassGivesTheFirstLineOfItsOutput(_ command: String, _ expected: String) throws {
        if expected.isEmpty {
            #expect(volumeError { _ = try PassphraseSource.command(command + " </dev/null").read() } == .emptyPassphrase)
        } else {
            #expect(contents(try PassphraseSource.command(command).read()) == Array(expected.utf8))
        }
    }

    @Test func failingExtpassIsReported() {
        #expect(volumeError { _ = try PassphraseSource.command("echo pw; exit 3").read() }
                == .extpassFailed(command: "echo pw; exit 3", reason: "exited with status 3"))
        #expect(volumeError { _ = try PassphraseSource.command("kill -9 $$").read() }
                == .extpassFailed(command: "kill -9 $$", reason: "killed by signal 9"))
        #expect(volumeError { _ = try PassphraseSource.command("true").read() } == .emptyPassphrase)
    }

    @Test func passfileUnlocksAVolume() throws {
        let directory = TemporaryDirectory()
        let cipherDir = directory.subdirectory()
        try makeVolume(cipherDir)
        let path = directory.write("pass", Array("correct horse\n".utf8))
        let passphrase = try PassphraseSource.file(path: path).read()
        _ = try Volume.unlock(cipherDir: cipherDir, passphrase: passphrase, engine: makeEngine(EngineKind.aesni))
        let fromCommand = try PassphraseSource.command("cat '\(path)'").read()
        _ = try Volume.unlock(cipherDir: cipherDir, passphrase: fromCommand, engine: makeEngine(EngineKind.aesni))
    }
}
