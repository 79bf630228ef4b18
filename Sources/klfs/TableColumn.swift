/// `text` left-aligned in a column `width` characters wide, and at least
/// one space after it, for the bench tables.
func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
