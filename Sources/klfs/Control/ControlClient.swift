import Foundation
import Glibc
import KLEngine

/// The client's end of the control socket: finds the socket of a klfs
/// mount, sends one request and returns the daemon's answer.
enum ControlClient {
    /// Sends `request` (and `secret`, for resume, right after the line) to
    /// the daemon of `mount`.
    static func send(_ request: ControlRequest, secret: SecretBytes? = nil,
                     to mount: MountTable.Mount) throws(CommandFailure) -> ControlResponse {
        let path = socketPath(of: mount)
        let unreachable = { (why: String) in
            CommandFailure(.controlUnavailable, "cannot reach the control socket of \(mount.mountPoint) (\(path)): \(why)")
        }
        let fd: Int32
        do throws(SystemError) {
            fd = try UnixSocket.make()
            try checked(try UnixSocket.withAddress(path) { address, length in connect(fd, address, length) })
        } catch {
            throw unreachable(String(cString: strerror(error.code)))
        }
        defer { close(fd) }
        var sendFailure: SystemError?
        do throws(SystemError) {
            try UnixSocket.send(Data((request.line + "\n").utf8), to: fd)
            if let secret {
                try secret.withUnsafeBytes { bytes throws(SystemError) in try UnixSocket.send(bytes, to: fd) }
            }
        } catch {
            // A daemon that refuses the caller answers and closes before
            // reading the request (EPIPE here): its answer is still there.
            sendFailure = error
        }
        guard let response = receiveResponse(fd) else {
            throw unreachable(sendFailure.map { String(cString: strerror($0.code)) } ?? "no answer")
        }
        return response
    }

    /// The control socket of `mount`, in the runtime directory of the
    /// user whose daemon serves it (mountinfo's user_id=).
    static func socketPath(of mount: MountTable.Mount) -> String {
        ControlSocketPath.socket(for: mount.mountPoint, daemonUID: mount.fuseUserID ?? getuid())
    }

    private static func receiveResponse(_ fd: Int32) -> ControlResponse? {
        guard let line = try? UnixSocket.receiveLine(from: fd, limit: 1 << 20) else { return nil }
        return try? JSONDecoder().decode(ControlResponse.self, from: Data(line.utf8))
    }

    /// The answer of a request that must succeed: a refusal becomes the
    /// failure the daemon named.
    static func require(_ response: ControlResponse) throws(CommandFailure) -> ControlResponse {
        guard response.ok else {
            throw CommandFailure(ExitStatus(rawValue: response.exitStatus) ?? .internalError,
                                 response.message ?? "the daemon refused")
        }
        return response
    }
}

extension ControlClient {
    /// `request` to the klfs mount on `mountPoint`, which must succeed.
    @discardableResult
    static func perform(_ request: ControlRequest, secret: SecretBytes? = nil,
                        on mountPoint: String) throws(CommandFailure) -> ControlResponse {
        let mount = try MountTable().klfsMount(at: mountPoint)
        return try require(try send(request, secret: secret, to: mount))
    }
}
