import ArgumentParser
import Foundation

/// The `cutover` command: an operator's cockpit for moving API endpoints between services through nginx.
@main
struct Cutover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cutover",
        abstract: "Watch and steer an endpoint-by-endpoint migration through nginx's traffic split.",
        discussion: """
        Without a subcommand Cutover opens the dashboard (`watch`). Exit codes: 0 success; 1 error (unreadable \
        config, bad settings); 2 `check` found errors (1: warnings only); 3 refused by validation (nothing changed); \
        4 reload failed and the change was reverted; 5 conflict (another writer holds the lock, or the file changed \
        underneath); 6 the revert itself failed (fix by hand); 64 usage error.
        """,
        version: CutoverVersion.string,
        subcommands: [WatchCommand.self, DemoCommand.self, RoutesCommand.self, StatusCommand.self, CheckCommand.self,
                      SetCommand.self, GroupCommand.self, AddCommand.self, RemoveCommand.self, RollbackCommand.self,
                      ResumeCommand.self, UndoCommand.self, HistoryCommand.self],
        defaultSubcommand: WatchCommand.self
    )
}
