import Foundation
import Testing

/// A snapshot comparison failure: the text differs from the recorded file, or no file was recorded yet.
public struct SnapshotError: Error, CustomStringConvertible {
    public let description: String
}

/// The environment variable that switches snapshot tests from comparing to (re)recording.
public let recordSnapshotsVariable = "CUTOVER_RECORD_SNAPSHOTS"

/// The file a snapshot named `name` is stored in: `__Snapshots__/<TestFile>/<name>.txt` beside the test file.
public func snapshotURL(name: String, filePath: String) -> URL {
    let testFile = URL(fileURLWithPath: filePath)
    return testFile.deletingLastPathComponent()
        .appendingPathComponent("__Snapshots__")
        .appendingPathComponent(testFile.deletingPathExtension().lastPathComponent)
        .appendingPathComponent(name + ".txt")
}

/// Compares `text` with the recorded snapshot `name`; with `CUTOVER_RECORD_SNAPSHOTS=1` writes it instead.
///
/// Returns nil when the text matches (or was recorded) and an error describing the difference (first
/// differing line, both versions in full) or how to record a missing snapshot otherwise. Lines are compared
/// exactly, trailing spaces included.
public func verifySnapshot(
    _ text: String, name: String, filePath: String = #filePath,
    environment: [String: String] = ProcessInfo.processInfo.environment
) -> SnapshotError? {
    let url = snapshotURL(name: name, filePath: filePath)
    if environment[recordSnapshotsVariable] == "1" {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
            return nil
        } catch {
            return SnapshotError(description: "could not record snapshot \(url.path): \(error.localizedDescription); check the folder is writable")
        }
    }
    guard let data = FileManager.default.contents(atPath: url.path) else {
        return SnapshotError(description: """
            no snapshot recorded at \(url.path); run the test with \(recordSnapshotsVariable)=1 to record it, \
            review the file, and commit it. Actual text:
            \(text)
            """)
    }
    let expected = String(decoding: data, as: UTF8.self)
    if expected == text { return nil }
    let expectedLines = expected.components(separatedBy: "\n")
    let actualLines = text.components(separatedBy: "\n")
    var firstDifference = 0
    while firstDifference < min(expectedLines.count, actualLines.count),
          expectedLines[firstDifference] == actualLines[firstDifference] {
        firstDifference += 1
    }
    func show(_ lines: [String], at i: Int) -> String { i < lines.count ? "|\(lines[i])|" : "(no line)" }
    return SnapshotError(description: """
        snapshot \(url.lastPathComponent) differs at line \(firstDifference + 1):
          expected: \(show(expectedLines, at: firstDifference))
          actual:   \(show(actualLines, at: firstDifference))
        If the change is intended, re-record with \(recordSnapshotsVariable)=1 and commit the file.
        --- expected (\(url.path))
        \(expected)
        --- actual
        \(text)
        """)
}

/// Records a test issue when `text` does not match the snapshot `name` (see `verifySnapshot`).
public func assertSnapshot(
    _ text: String, name: String, filePath: String = #filePath,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    if let error = verifySnapshot(text, name: name, filePath: filePath) {
        Issue.record(Comment(rawValue: error.description), sourceLocation: sourceLocation)
    }
}
