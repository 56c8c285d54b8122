import Foundation
import NginxConfig
import Testing

/// Replays the config parser's fuzz crashes (Fixtures/fuzz-crashes/config-parser) and the fuzz seeds with the
/// fuzz target's own checks: a parsed file prints back to exactly its bytes, a refusal names a line inside it.
@Suite struct ConfigFuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    @Test func everyCrashInputAndSeedParsesLosslesslyOrIsRefusedInsideTheFile() throws {
        let dirs = [Self.root.appendingPathComponent("Fixtures/fuzz-crashes/config-parser"),
                    Self.root.appendingPathComponent("../../Fuzz/corpus/config-parser").standardized]
        let inputs = dirs.flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.lastPathComponent != "README.md" }
        }
        #expect(inputs.count >= 4, "the seed corpus is in place")
        for url in inputs {
            guard let text = String(data: try Data(contentsOf: url), encoding: .utf8) else { continue }
            let lines = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            do {
                let file = try ConfigParser.parse(text, path: url.path)
                #expect(ConfigPrinter.print(file) == text, "\(url.lastPathComponent) does not print back losslessly")
            } catch {
                #expect(error.line >= 0 && error.line <= lines + 1, "\(url.lastPathComponent): line \(error.line) of \(lines)")
            }
        }
    }
}
