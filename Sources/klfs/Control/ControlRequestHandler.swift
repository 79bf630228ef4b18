import Foundation
import Glibc
import KLBlock
import KLEngine

/// What the daemon does for each control request.
final class ControlRequestHandler: @unchecked Sendable {
    private let keys: VolumeKeys
    private let mountPoint: String
    private let renewal: any KeyRenewal
    private let started = Date()

    init(keys: VolumeKeys, mountPoint: String, renewal: any KeyRenewal) {
        self.keys = keys
        self.mountPoint = mountPoint
        self.renewal = renewal
    }

    func respond(to received: ReceivedRequest) throws(CommandFailure) -> ControlResponse {
        switch received.request {
        case .status:
            return .success(status: status())
        case .suspend:
            try withdraw(into: .suspended, because: .suspendCommand)
            return .success(state: .suspended)
        case .lock:
            try withdraw(into: .locked, because: .lockCommand)
            return .success(state: .locked)
        case .resume(let kind, _):
            try resume(kind, secret: received.secret!)
            return .success(state: keys.snapshot().state)
        case .iwkeyEvent(let name):
            try performForTesting(name)
            return .success(state: keys.snapshot().state)
        }
    }

    private func withdraw(into state: VolumeState, because cause: LockCause) throws(CommandFailure) {
        do throws(EngineError) {
            try keys.withdrawKeys(into: state, because: cause)
        } catch {
            throw CommandFailure(error)
        }
    }

    /// The secret dies here: inside the renewal when the keys are made
    /// again, in the defer when resume had nothing to do.
    private func resume(_ kind: ControlRequest.SecretKind, secret: SecretBytes) throws(CommandFailure) {
        defer { secret.wipe() }
        let renewal = self.renewal
        try keys.resume { engine throws(CommandFailure) -> KeySet in
            try renewal.renewedKeys(kind, secret: secret, engine: engine)
        }
    }

    private func performForTesting(_ name: String) throws(CommandFailure) {
        guard let event = IWKeyEvent(rawValue: name) else {
            throw CommandFailure(.usage, "unknown IWKey event '\(name)' (\(IWKeyEvent.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        do throws(EngineError) {
            try keys.perform(event)
        } catch {
            throw CommandFailure(.iwkeyEventUnsupported, error.description)
        }
    }

    private func status() -> StatusReport {
        let snapshot = keys.snapshot()
        let statistics = keys.statistics
        return StatusReport(
            mountPoint: mountPoint, cipherDir: renewal.source, mode: renewal.mode, image: renewal.image, pid: getpid(),
            state: snapshot.state, cause: snapshot.cause,
            engine: keys.engine.kind.rawValue, xtsKernel: keys.engine.kernelName,
            handleRestrictions: handleRestrictions(),
            iwkey: snapshot.wrappingKey.map {
                IWKeyReport(keySource: $0.keySource.rawValue, keySourceName: $0.keySource.description,
                            noBackup: $0.noBackup)
            },
            uptimeSeconds: Date().timeIntervalSince(started),
            requests: statistics.requestCounts,
            bytesRead: statistics.bytesRead.total(), bytesWritten: statistics.bytesWritten.total(),
            sectorsEncrypted: statistics.sectorsEncrypted.total(), sectorsDecrypted: statistics.sectorsDecrypted.total(),
            handleFailures: statistics.handleFailures.total())
    }

    /// The data and names handles carry none; the tweak handle what the
    /// engine puts on it (no-decrypt, as XTS only encrypts the tweak).
    private func handleRestrictions() -> HandleRestrictionReport? {
        guard let locker = keys.engine as? any KeyLocker else { return nil }
        return HandleRestrictionReport(data: [], tweak: Self.names(of: locker.tweakRestrictions))
    }

    private static func names(of restrictions: HandleRestrictions) -> [String] {
        [(HandleRestrictions.cpl0Only, "cpl0-only"), (.noEncrypt, "no-encrypt"), (.noDecrypt, "no-decrypt")]
            .filter { restrictions.contains($0.0) }.map(\.1)
    }
}
