/// In-place edits of the metadata tree: keyslot management changes a few
/// members and keeps the rest as it found it.
extension LUKS2JSON {
    /// Sets the member at `path` (nil removes it); objects on the way must exist.
    mutating func set(_ path: [String], to value: LUKS2JSON?) {
        guard case .object(var members) = self, let key = path.first else { return }
        if path.count == 1 {
            members[key] = value
        } else {
            var child = members[key] ?? .object([:])
            child.set(Array(path.dropFirst()), to: value)
            members[key] = child
        }
        self = .object(members)
    }

    /// Applies `edit` to the string list at `path` (a digest's keyslots, say).
    mutating func editStrings(_ path: [String], _ edit: (inout [String]) -> Void) {
        var node: LUKS2JSON? = self
        for key in path { node = node?[key] }
        guard case .array(let items)? = node else { return }
        var strings = items.compactMap { item -> String? in
            if case .string(let text) = item { return text }
            return nil
        }
        edit(&strings)
        set(path, to: .array(strings.map(LUKS2JSON.string)))
    }
}
