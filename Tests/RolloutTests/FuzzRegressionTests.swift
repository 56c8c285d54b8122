import Foundation
import Settings
import Testing

/// Replays the settings reader's fuzz crashes (Fixtures/fuzz-crashes/settings) and the fuzz seeds with the
/// fuzz target's own checks: no crash, and a refusal names a line inside the file.
@Suite struct SettingsFuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    static func inputs() -> [URL] {
        let dirs = [root.appendingPathComponent("Fixtures/fuzz-crashes/settings"),
                    root.appendingPathComponent("../../Fuzz/corpus/settings").standardized]
        return dirs.flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.lastPathComponent != "README.md" }
        }.sorted { $0.path < $1.path }
    }

    @Test func everyCrashInputIsReadOrRefusedAtALineInsideTheFile() throws {
        let inputs = Self.inputs()
        #expect(inputs.contains { $0.lastPathComponent == "lone-carriage-returns.yaml" }, "the crash corpus is in place")
        for url in inputs {
            let data = try Data(contentsOf: url)
            guard let text = String(data: data, encoding: .utf8) else { continue }
            let lines = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            do {
                _ = try Settings.parse(text, file: url.path)
            } catch {
                #expect(error.line >= 0 && error.line <= lines, "\(url.lastPathComponent): line \(error.line) of \(lines): \(error)")
            }
        }
    }

    @Test func aLoneCarriageReturnIsRefusedAtTheLineAnEditorShows() {
        #expect(throws: SettingsError.self) { _ = try Settings.parse("config: a.conf\nwindow: 5m\rtheme: x\n", file: "s.yaml") }
        do {
            _ = try Settings.parse("config: a.conf\nwindow: 5m\rtheme: x\n", file: "s.yaml")
        } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("carriage return"))
        }
        #expect((try? Settings.parse("config: a.conf\r\nwindow: 5m\r\n", file: "s.yaml"))?.window == "5m", "CRLF files still read")
    }
}
