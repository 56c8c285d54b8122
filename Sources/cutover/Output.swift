import Foundation
import TerminalUI

/// Prints like `Swift.print`, with control characters made visible: everything the CLI prints may carry
/// text from outside (request paths from the logs, file contents), which must never reach the terminal raw.
/// Shadows `Swift.print` for the whole executable, so no command can forget it.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { "\($0)" }.joined(separator: separator)
    Swift.print(TerminalText.printable(text), terminator: terminator)
}

/// Writes to standard error, control characters made visible.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((TerminalText.printable(text) + "\n").utf8))
}
