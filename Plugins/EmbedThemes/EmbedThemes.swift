import Foundation
import PackagePlugin

/// The build-tool plugin that embeds the package's `themes/*.yaml` files into the target that uses it, so an
/// installed binary has the built-in themes wherever it runs (the files stay the source of truth).
@main
struct EmbedThemes: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let themes = context.package.directoryURL.appending(path: "themes")
        let files = ((try? FileManager.default.contentsOfDirectory(at: themes, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "yaml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "BuiltInThemeFiles.swift")
        return [.buildCommand(
            displayName: "Embedding \(files.count) theme file(s) from themes/",
            executable: try context.tool(named: "embed-themes").url,
            arguments: [output.path] + files.map(\.path),
            inputFiles: files,
            outputFiles: [output]
        )]
    }
}
