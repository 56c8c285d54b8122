import ArgumentParser
import Foundation

/// The `cutover` command: an operator's cockpit for moving API endpoints between services through nginx.
@main
struct Cutover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cutover",
        abstract: "Watch and steer an endpoint-by-endpoint migration through nginx's traffic split.",
        discussion: """
        Exit codes: 0 success; 1 error (unreadable config, bad settings); 3 refused by validation (nothing changed); \
        4 reload failed and the change was reverted; 5 conflict (another writer holds the lock, or the file changed \
        underneath); 64 usage error.
        """,
        subcommands: [RoutesCommand.self, SetCommand.self, GroupCommand.self, AddCommand.self, RemoveCommand.self,
                      RollbackCommand.self, ResumeCommand.self, HistoryCommand.self, UndoCommand.self, StatusCommand.self, CheckCommand.self,
                      WatchCommand.self, DemoCommand.self], defaultSubcommand: WatchCommand.self
    )
}
