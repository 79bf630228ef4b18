import Glibc

/// What a check saw, in order, printed as `key=value` pairs; written as a
/// dictionary literal (`["rename": outcome(...), "a": kind("a")]`).
struct Observations: ExpressibleByDictionaryLiteral {
    let pairs: [(key: String, value: String)]

    init(dictionaryLiteral elements: (String, String)...) {
        pairs = elements.map { (key: $0.0, value: $0.1) }
    }

    init(_ pairs: [(key: String, value: String)]) {
        self.pairs = pairs
    }

    var line: String { pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
}

/// One named check. `run` starts in its own fresh, empty current
/// directory (mode 0777, so that the second user can work in it too), with
/// umask 022 and the runner's own identity, and returns what it observed.
struct Check: Sendable {
    let name: String
    let run: @Sendable () throws -> Observations

    init(_ name: String, _ run: @escaping @Sendable () throws -> Observations) {
        self.name = name
        self.run = run
    }

    /// Runs the check in `root`/NAME and gives its output line.
    func resultLine(in root: String) -> String {
        let directory = root + "/" + name
        guard mkdir(directory, 0o777) == 0, chmod(directory, 0o777) == 0, chdir(directory) == 0 else {
            return "\(name): setup failed: check directory: \(errnoName(errno))"
        }
        defer { _ = chdir(root) }
        let mask = umask(0o022)
        defer { umask(mask) }
        do {
            let seen = try run()
            return "\(name): " + seen.line
        } catch let failure as SetupFailure {
            return "\(name): setup failed: \(failure.step): \(errnoName(failure.code))"
        } catch is NeedsRoot {
            return "\(name): needs root"
        } catch {
            return "\(name): failed: \(error)"
        }
    }
}

/// A step that prepares a check failed; the check reports the step and
/// its errno instead of observations.
struct SetupFailure: Error {
    let step: String
    let code: Int32
}

/// The check acts as the second user, which only root can become.
struct NeedsRoot: Error {}
