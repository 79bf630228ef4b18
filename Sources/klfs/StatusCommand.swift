import ArgumentParser
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a klfs mount's state, engine and traffic (every klfs mount without MOUNTPOINT).",
        discussion: "Asks the mount's daemon over its control socket (docs/FUSE.md, \"The control socket\")."
    )

    @Argument(help: "Where the volume is mounted; omitted, every klfs mount is listed.")
    var mountPoint: String?

    @Flag(help: "Print JSON (docs/FUSE.md gives the fields).")
    var json = false

    func run() throws {
        try reportingFailures {
            if let mountPoint {
                let mount = try MountTable().klfsMount(at: mountPoint)
                let report = try ControlClient.require(try ControlClient.send(.status, to: mount)).status
                guard let report else { throw CommandFailure(.controlUnavailable, "the daemon sent no status") }
                print(json ? StatusText.json(report) : StatusText.describe(report))
            } else {
                listEveryMount()
            }
        }
    }

    /// One entry per klfs mount in mountinfo, with its status or why there
    /// is none (a daemon without a control socket, or another user's).
    private func listEveryMount() {
        let entries = MountTable().klfsMounts.map { mount -> StatusListEntry in
            var entry = StatusListEntry(mountPoint: mount.mountPoint, cipherDir: mount.source,
                                        socket: ControlClient.socketPath(of: mount))
            do throws(CommandFailure) {
                entry.status = try ControlClient.require(try ControlClient.send(.status, to: mount)).status
            } catch {
                entry.error = error.message
            }
            return entry
        }
        if json {
            print(StatusText.json(entries))
            return
        }
        if entries.isEmpty { print("no klfs mounts") }
        for entry in entries {
            if let status = entry.status {
                print(StatusText.describe(status) + "\n  socket:           \(entry.socket)")
            } else {
                print("\(entry.mountPoint)\n  cipher dir:       \(entry.cipherDir)\n  socket:           \(entry.socket)\n  status:           unknown (\(entry.error ?? ""))")
            }
        }
    }
}

/// `klfs status` without MOUNTPOINT, per mount.
struct StatusListEntry: Codable {
    var mountPoint: String
    var cipherDir: String
    /// Where its control socket should be.
    var socket: String
    var status: StatusReport?
    /// Why there is no status (no socket: a daemon older than the control
    /// socket, or a dead one; another user's mount).
    var error: String?
}
