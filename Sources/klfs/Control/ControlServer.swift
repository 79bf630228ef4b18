import CFuse
import Foundation
import Glibc
import KLEngine

/// The daemon's end of the control socket: a unix socket of mode 0600 in
/// the mounting user's runtime directory (``ControlSocketPath``), served by
/// one thread, one connection at a time. Only the mounting user and root
/// are answered (SO_PEERCRED); anyone else gets a refusal. Removed when the
/// mount ends.
final class ControlServer: @unchecked Sendable {
    let path: String
    private let listener: Int32
    private let handler: ControlRequestHandler

    /// Binds and listens; the socket replaces a stale one of an earlier
    /// daemon that did not end cleanly (the mount point was not mounted, or
    /// mounting would have failed).
    init(mountPoint: String, handler: ControlRequestHandler) throws(CommandFailure) {
        path = ControlSocketPath.socket(for: mountPoint, daemonUID: getuid())
        self.handler = handler
        do throws(SystemError) {
            try Self.makePrivateDirectory(ControlSocketPath.runtimeDirectory(for: getuid()))
            let fd = try UnixSocket.make()
            unlink(path)
            try checked(try UnixSocket.withAddress(path) { address, length in bind(fd, address, length) })
            // Nobody can connect before listen(), so the mode the daemon's
            // umask 0 gave the socket is tightened in time.
            try checked(chmod(path, 0o600))
            try checked(listen(fd, 8))
            listener = fd
        } catch {
            throw CommandFailure(.mountFailed, "cannot make the control socket \(path): \(String(cString: strerror(error.code)))")
        }
    }

    /// Serves connections on a thread of its own until ``close()``.
    func start() {
        let thread = Thread { [self] in serve() }
        thread.name = "klfs-control"
        thread.start()
    }

    /// Stops listening and removes the socket (at unmount).
    func close() {
        unlink(path)
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            UnixSocket.setTimeout(connection, seconds: 30)
            answer(connection)
            Glibc.close(connection)
        }
    }

    private func answer(_ connection: Int32) {
        let response: ControlResponse
        do throws(CommandFailure) {
            // Read whole before anything is refused: closing with unread
            // bytes would reset the connection before the client reads why.
            let received = try receiveRequest(connection)
            // A refused caller's secret dies here, unused.
            defer { received.secret?.wipe() }
            try requirePermittedPeer(connection)
            response = try handler.respond(to: received)
        } catch {
            response = .failure(error)
        }
        try? UnixSocket.send(response.encodedLine(), to: connection)
    }

    /// Only the user who mounted (the daemon's user) and root.
    private func requirePermittedPeer(_ connection: Int32) throws(CommandFailure) {
        var peer: uid_t = 0
        guard cfuse_peer_uid(connection, &peer) == 0 else {
            throw CommandFailure(.controlRefused, "cannot tell who is asking (SO_PEERCRED)")
        }
        guard peer == 0 || peer == getuid() else {
            throw CommandFailure(.controlRefused, "uid \(peer) may not control this mount (only uid \(getuid()) and root)")
        }
    }

    /// The request line, and for resume its secret, read straight into
    /// secret memory.
    private func receiveRequest(_ connection: Int32) throws(CommandFailure) -> ReceivedRequest {
        let malformed = CommandFailure(.usage, "malformed control request")
        guard let line = try? UnixSocket.receiveLine(from: connection, limit: ControlRequest.lineLimit),
              let request = ControlRequest(line: line) else { throw malformed }
        guard case .resume(_, let length) = request else { return ReceivedRequest(request: request, secret: nil) }
        let secret: SecretBytes
        do throws(EngineError) { secret = try SecretBytes(count: length) } catch { throw CommandFailure(error) }
        let complete = try? secret.withUnsafeMutableBytes { buffer throws(SystemError) in
            try UnixSocket.receive(into: buffer, from: connection)
        }
        guard complete == true else {
            secret.wipe()
            throw malformed
        }
        return ReceivedRequest(request: request, secret: secret)
    }

    /// Makes `directory` (mode 0700) if missing, and requires that it is a
    /// real directory of this user that nobody else may write to (a /tmp
    /// fallback could have been made by someone else first); the socket's
    /// own mode keeps others from connecting.
    private static func makePrivateDirectory(_ directory: String) throws(SystemError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw .current }
        var st = stat()
        try checked(lstat(directory, &st))
        guard st.st_mode & S_IFMT == S_IFDIR, st.st_uid == getuid(), st.st_mode & 0o022 == 0 else {
            throw SystemError(EPERM)
        }
    }
}

/// A request as received: the secret is the caller's to wipe.
struct ReceivedRequest {
    let request: ControlRequest
    let secret: SecretBytes?
}
