import Apply
import Foundation
import TerminalUI
import TrafficStats

/// The dashboard's event loop: reads keys, reduces actions, starts effects, and redraws.
///
/// The loop never waits on I/O: keys are polled with a short timeout, effects run on the runner's
/// background queue, and traffic comes from snapshots the ingest publishes.
public final class App {
    /// The current state.
    public private(set) var state: AppState
    private let runner: EffectRunner
    private let traffic: TrafficSource?
    private let clock: ApplyClock
    /// How long one key poll waits.
    public var keyTimeout: Duration = .milliseconds(50)
    /// How often traffic and the clock are refreshed (and the screen redrawn without input).
    public var refreshInterval: Duration = .milliseconds(500)
    /// How often the config is re-read from disk, so previews start from what is there now.
    public var configRefreshInterval: Duration = .seconds(5)
    /// The number of frames drawn so far.
    public private(set) var framesDrawn = 0

    /// Creates an app on an initial state.
    public init(state: AppState, runner: EffectRunner, traffic: TrafficSource?, clock: ApplyClock = .system) {
        self.state = state
        self.runner = runner
        self.traffic = traffic
        self.clock = clock
    }

    /// Reduces one action and starts its effects.
    public func send(_ action: Action) {
        for effect in reduce(&state, action) { runner.perform(effect, basis: state.loaded) }
    }

    private var terminal: Terminal?
    private var lastRefresh: Duration = .zero
    private var lastConfigRead: Duration = .zero
    private var dirty = true

    /// Starts drawing on `backend`: hides the cursor, reads the clock, asks for traffic and the journal.
    /// `run` calls it; tests call it and then `step(now:)`.
    public func attach(_ backend: any TerminalUI.Backend) {
        let terminal = Terminal(backend: backend)
        self.terminal = terminal
        state.unicode = backend.supportsUnicode
        backend.hideCursor()
        send(.resized(width: backend.size.width, height: backend.size.height))
        send(.tick(clock.now()))
        runner.perform(.refreshTraffic(state.window))
        runner.perform(.loadJournal)
        lastRefresh = clock.monotonic()
        lastConfigRead = lastRefresh
        dirty = true
    }

    /// One turn of the event loop at monotonic time `now`: draws if anything changed, takes the keys waiting
    /// (waiting at most `keyTimeout` for the first), the effects' results, and refreshes traffic, the clock and
    /// the config when their intervals have passed since the last refresh.
    public func step(now: Duration) {
        guard let terminal else { return }
        let backend = terminal.backend
        if dirty {
            draw(terminal)
            dirty = false
        }
        if let key = backend.readKey(timeout: keyTimeout) {
            handle(key, terminal: terminal)
            // Take whatever else is already queued before drawing, so a burst of keys draws once.
            var burst = 0
            while burst < 64, !state.quitting, let more = backend.readKey(timeout: .zero) {
                handle(more, terminal: terminal)
                burst += 1
            }
            dirty = true
        }
        for action in runner.drain() {
            send(action)
            dirty = true
        }
        if now - lastRefresh >= refreshInterval {
            lastRefresh = now
            send(.tick(clock.now()))
            if let traffic {
                send(.lookBack(traffic.backfill))
                send(.traffic(traffic.snapshot(state.window), error: traffic.error))
            }
            dirty = true
        }
        if now - lastConfigRead >= configRefreshInterval, state.applying == nil {
            lastConfigRead = now
            runner.perform(.reloadConfig)
        }
        if dirty {
            draw(terminal)
            dirty = false
        }
    }

    /// Stops drawing: shows the cursor again.
    public func detach() {
        terminal?.backend.showCursor()
        terminal = nil
    }

    /// Runs until the operator quits (or `shouldStop` returns true); the caller restores the terminal.
    ///
    /// - Parameter shouldStop: checked once per loop turn (tests and signal handling use it).
    public func run(backend: any TerminalUI.Backend, shouldStop: () -> Bool = { false }) {
        attach(backend)
        defer { detach() }
        while !state.quitting && !shouldStop() {
            step(now: clock.monotonic())
        }
        if state.applying != nil {
            // Let a change in flight finish so its journal record and the files agree before exiting.
            runner.waitUntilIdle(timeout: .seconds(30))
        }
    }

    private func handle(_ key: Key, terminal: Terminal) {
        switch key {
        case .resize:
            terminal.invalidate()
            send(.resized(width: terminal.backend.size.width, height: terminal.backend.size.height))
        case .ctrl("l"):
            terminal.invalidate()
        default:
            send(.key(key))
        }
    }

    private func draw(_ terminal: Terminal) {
        let size = terminal.backend.size
        if size.width != state.screenWidth || size.height != state.screenHeight {
            send(.resized(width: size.width, height: size.height))
        }
        let state = state
        terminal.draw { buffer in
            Screen.render(state, theme: state.theme, area: buffer.area, buffer: &buffer)
        }
        framesDrawn += 1
    }
}
