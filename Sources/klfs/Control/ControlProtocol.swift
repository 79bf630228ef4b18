import Foundation
import KLBlock

/// The control socket's protocol (docs/FUSE.md, "The control socket"). A
/// client sends one request line, `VERB [ARGUMENT...]` and "\n"; `resume`
/// names its secret's kind and length and sends that many bytes right
/// after the line. The daemon answers with one line of JSON
/// (``ControlResponse``) and closes the connection.
enum ControlRequest: Equatable {
    case status
    case suspend
    case lock
    /// The secret's bytes follow the line.
    case resume(SecretKind, length: Int)
    /// For testing: an IWKey event performed on the daemon's engine.
    case iwkeyEvent(String)

    enum SecretKind: String {
        /// The passphrase, as --passfile, --extpass or the terminal gave it.
        case passphrase
        /// The 64-byte master key, as parsed from init's text.
        case masterkey
        /// An image's keyfile bytes, from its offset, within its size limit.
        case keyfile

        /// A secret longer than this is refused before it is read: a
        /// keyfile may be as long as cryptsetup reads by default.
        var limit: Int { self == .keyfile ? Keyfile.defaultSizeLimit : 4096 }
    }

    /// A request line longer than this is refused.
    static let lineLimit = 256

    var line: String {
        switch self {
        case .status: return "status"
        case .suspend: return "suspend"
        case .lock: return "lock"
        case .resume(let kind, let length): return "resume \(kind.rawValue) \(length)"
        case .iwkeyEvent(let event): return "iwkey-event \(event)"
        }
    }

    init?(line: String) {
        let words = line.split(separator: " ").map(String.init)
        switch (words.first ?? "", words.count) {
        case ("status", 1): self = .status
        case ("suspend", 1): self = .suspend
        case ("lock", 1): self = .lock
        case ("iwkey-event", 2): self = .iwkeyEvent(words[1])
        case ("resume", 3):
            guard let kind = SecretKind(rawValue: words[1]), let length = Int(words[2]),
                  (1...kind.limit).contains(length) else { return nil }
            self = .resume(kind, length: length)
        default: return nil
        }
    }
}

/// The daemon's answer. `exitStatus` is what the client exits with
/// (``ExitStatus``), 0 when `ok`.
struct ControlResponse: Codable {
    var ok: Bool
    var exitStatus: Int32
    var message: String?
    /// The state after the request (suspend, lock, resume).
    var state: VolumeState?
    /// `status` only.
    var status: StatusReport?

    static func success(state: VolumeState? = nil, status: StatusReport? = nil) -> ControlResponse {
        ControlResponse(ok: true, exitStatus: 0, message: nil, state: state, status: status)
    }

    static func failure(_ failure: CommandFailure) -> ControlResponse {
        ControlResponse(ok: false, exitStatus: failure.status.rawValue, message: failure.message)
    }

    func encodedLine() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ((try? encoder.encode(self)) ?? Data(#"{"ok":false,"exitStatus":1}"#.utf8)) + Data("\n".utf8)
    }
}
