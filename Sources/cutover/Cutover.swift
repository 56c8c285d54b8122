import Apply
import ArgumentParser
import Foundation

/// The `cutover` command: an operator's cockpit for moving API endpoints between services through nginx.
@main
struct Cutover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cutover",
        abstract: "Watch and steer an endpoint-by-endpoint migration through nginx's traffic split.",
        discussion: "Without a subcommand Cutover opens the dashboard (`watch`).\n\nExit codes:\n" + ExitStatus.table,
        version: CutoverVersion.string,
        subcommands: [WatchCommand.self, DemoCommand.self, RoutesCommand.self, StatusCommand.self, CheckCommand.self,
                      SetCommand.self, GroupCommand.self, AddCommand.self, RemoveCommand.self, RollbackCommand.self,
                      ResumeCommand.self, UndoCommand.self, SyncCommand.self, HistoryCommand.self,
                      RampCommand.self, PlansCommand.self, PlanCommand.self, GuardCommand.self],
        defaultSubcommand: WatchCommand.self
    )
}
