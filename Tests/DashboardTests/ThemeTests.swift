import Foundation
import Testing
import TerminalUI
@testable import Dashboard

@Suite struct ThemeTests {
    static let themesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("themes")

    /// A fresh temporary directory for one test.
    func makeTempDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-theme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func partialFileKeepsDefaultsForOtherRoles() {
        let result = ThemeLoader.parse(yaml: """
            name: mine
            roles:
              ok: blue
              bad: { fg: "#ff8800", bold: true, underline: true }
            """, name: "file", file: "mine.yaml")
        #expect(result.diagnostics.isEmpty)
        #expect(result.theme.name == "mine")
        #expect(result.theme[.ok] == Style(fg: .blue))
        #expect(result.theme[.bad] == Style(fg: .rgb(255, 136, 0), modifiers: [.bold, .underline]))
        #expect(result.theme[.selection] == Theme.default[.selection])
        #expect(result.theme[.header] == Theme.default[.header])
    }

    @Test func syntaxErrorGivesDefaultAndLine() {
        let result = ThemeLoader.parse(yaml: "roles:\n  ok: green\n  bad: { fg: red\n  watch: yellow\n", name: "broken", file: "broken.yaml")
        #expect(result.theme == Theme.default)
        #expect(result.diagnostics.count == 1)
        let d = result.diagnostics.first
        #expect(d?.file == "broken.yaml")
        #expect(d?.line == 4)
        #expect(d?.description.hasPrefix("broken.yaml:4:") == true)
        #expect(d?.message.contains("YAML syntax error") == true)
    }

    @Test func unquotedHashInFlowMappingGetsAHint() {
        let result = ThemeLoader.parse(yaml: "roles:\n  ok: { fg: #00ff00 }\n", name: "t", file: "t.yaml")
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.message.contains("quote") == true)
    }

    @Test func unknownRoleIsReportedWithItsLine() {
        let result = ThemeLoader.parse(yaml: "roles:\n  ok: green\n  oops: red\n", name: "t", file: "t.yaml")
        #expect(result.theme == Theme.default)
        #expect(result.diagnostics.map(\.line) == [3])
        #expect(result.diagnostics.first?.message.contains("unknown role 'oops'") == true)
        #expect(result.diagnostics.first?.message.contains("new-service") == true, "lists the known roles")
    }

    @Test func badValuesAreAllReported() throws {
        let result = ThemeLoader.parse(yaml: """
            roles:
              ok: purple
              bad: { fg: red, bold: maybe }
              watch:
                fg: #ff0000
              header: { colour: red }
            extra: 1
            """, name: "t", file: "t.yaml")
        #expect(result.theme == Theme.default)
        try #require(result.diagnostics.count == 5)
        #expect(result.diagnostics.map(\.line) == [2, 3, 5, 6, 7])
        #expect(result.diagnostics[0].message.contains("unknown colour 'purple'"))
        #expect(result.diagnostics[1].message.contains("true or false"))
        #expect(result.diagnostics[2].message.contains("quote"))
        #expect(result.diagnostics[3].message.contains("unknown style key 'colour'"))
        #expect(result.diagnostics[4].message.contains("unknown key 'extra'"))
    }

    @Test func shippedThemesLoadCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.themesDirectory.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(files).isSuperset(of: ["default.yaml", "light.yaml", "high-contrast.yaml", "colorblind.yaml"]))
        for file in files {
            let result = ThemeLoader.load(contentsOf: Self.themesDirectory.appendingPathComponent(file))
            #expect(result.diagnostics.isEmpty, "\(file): \(result.diagnostics)")
            #expect(result.theme.name + ".yaml" == file)
            #expect(result.source != nil)
        }
    }

    @Test func shippedDefaultMatchesTheCompiledInTheme() {
        let result = ThemeLoader.load(named: "default", searchDirectories: [Self.themesDirectory])
        #expect(result.diagnostics.isEmpty)
        #expect(result.source != nil)
        for role in ThemeRole.allCases {
            #expect(result.theme[role] == Theme.default[role], "role \(role.rawValue)")
        }
    }

    @Test func colorblindThemeAvoidsRedAndGreen() {
        let theme = ThemeLoader.load(named: "colorblind", searchDirectories: [Self.themesDirectory]).theme
        let reds: Set<Color> = [.red, .brightRed, .green, .brightGreen]
        for role in [ThemeRole.ok, .bad, .watch, .newService, .currentService] {
            for mode in [ColorMode.truecolor, .palette256, .ansi8] {
                let fg = theme[role].degraded(to: mode).fg
                #expect(!reds.contains(fg), "\(role.rawValue) in \(mode) is \(fg)")
            }
        }
        #expect(theme[.ok].fg != theme[.bad].fg)
    }

    @Test func searchOrderAndFallbacks() throws {
        let user = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: user) }
        try "roles:\n  ok: blue\n".write(to: user.appendingPathComponent("light.yaml"), atomically: true, encoding: .utf8)
        let mine = ThemeLoader.load(named: "light", searchDirectories: [user, Self.themesDirectory])
        #expect(mine.diagnostics.isEmpty)
        #expect(mine.source?.path == user.appendingPathComponent("light.yaml").path)
        #expect(mine.theme[.ok] == Style(fg: .blue))
        #expect(ThemeLoader.availableThemes(in: [user, Self.themesDirectory]).contains("high-contrast"))

        let builtIn = ThemeLoader.load(named: "default", searchDirectories: [user])
        #expect(builtIn.theme == Theme.default)
        #expect(builtIn.diagnostics.isEmpty)
        #expect(builtIn.source == nil)

        let missing = ThemeLoader.load(named: "nope", searchDirectories: [user])
        #expect(missing.theme == Theme.default)
        #expect(missing.diagnostics.first?.message.contains("not found") == true)
        #expect(missing.diagnostics.first?.message.contains("light") == true, "lists available themes")

        let traversal = ThemeLoader.load(named: "../etc/passwd", searchDirectories: [user])
        #expect(traversal.diagnostics.count == 1)
    }

    @Test func brokenFileOnDiskNamesThePath() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bad.yaml")
        try "roles:\n  ok: green\n  bad: [red\n".write(to: url, atomically: true, encoding: .utf8)
        let result = ThemeLoader.load(named: "bad", searchDirectories: [dir])
        #expect(result.theme == Theme.default)
        #expect(result.source == nil)
        #expect(result.diagnostics.first?.file == url.path)
        #expect(result.diagnostics.first?.line != nil)
    }
}
