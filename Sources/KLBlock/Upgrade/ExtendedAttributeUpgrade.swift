/// One backing entry's extended attributes from version 1 (stored as
/// given) to version 2 (``ExtendedAttributeCipher``): each `user.`
/// attribute is set under its encrypted name and value, then its plaintext
/// one removed. Other namespaces are left alone; a version 2 mount does
/// not show them.
struct ExtendedAttributeUpgrade: Sendable {
    let cipher: ExtendedAttributeCipher
    let calls: any BackingExtendedAttributes
    /// No earlier run has converted anything, so a name that decrypts is a
    /// version 1 name that merely looks encrypted (`user.klfs.` and
    /// base64url that happens to decrypt), not a converted one. A fresh
    /// survey refuses it, which lets an interrupted run take every name
    /// that decrypts for converted.
    let fresh: Bool

    /// Converts (or, without `converting`, checks) the attributes of `fd`;
    /// whether all of them are in version 2 form or can be.
    func upgrade(_ fd: Int32, path: String, converting: Bool,
                 into report: inout UpgradeReport) throws(CipherFileError) -> Bool {
        var complete = true
        for name in try calls.names(of: fd) {
            guard name.starts(with: ExtendedAttributeCipher.namespace) else {
                report.attributesOutsideUser += 1
                continue
            }
            let text = String(decoding: name, as: UTF8.self)
            if (try? cipher.decryptName(name)) != nil {
                guard fresh else { continue }
                report.problems.append("\(path): attribute \(text) looks like an encrypted one; rename it first")
                complete = false
                continue
            }
            let value = try calls.value(of: name, on: fd)
            let sealedName: [UInt8], sealedValue: [UInt8]
            do throws(ExtendedAttributeError) {
                sealedName = try cipher.encryptName(name)
                sealedValue = try cipher.encryptValue(value)
            } catch .engine(let error) {
                throw .crypto(error)
            } catch {
                report.problems.append("\(path): attribute \(text): \(error), which version 2 cannot store")
                complete = false
                continue
            }
            if converting {
                try calls.set(sealedName, to: sealedValue, on: fd)
                try calls.remove(name, from: fd)
            }
            report.attributesConverted += 1
        }
        return complete
    }
}
