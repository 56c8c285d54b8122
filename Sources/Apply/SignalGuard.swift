import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Holds SIGINT, SIGTERM and SIGHUP while a change is in flight: their handlers only note the signal, so
/// the pipeline can revert (before the reload) or finish (after it) and journal what it did; the caller
/// then ends the process by the noted signal with `raisePending`.
///
/// Process-wide and reentrant: the first `hold` installs the handlers, the last `release` puts the previous
/// dispositions back.
public enum SignalGuard {
    /// The signals held during a change.
    public static let held: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private static let noted = Atomic<Int32>(0)
    private static let state = Mutex<(depth: Int, previous: [Int32: sigaction])>((0, [:]))

    /// Starts holding the signals (nested calls only count).
    public static func hold() {
        _ = noted.load(ordering: .relaxed)  // initialise the global before a handler may touch it
        state.withLock { state in
            if state.depth == 0 {
                for signal in held {
                    var action = sigaction()
                    #if canImport(Glibc)
                    action.__sigaction_handler.sa_handler = { signal in SignalGuard.note(signal) }
                    #else
                    action.__sigaction_u.__sa_handler = { signal in SignalGuard.note(signal) }
                    #endif
                    action.sa_flags = SA_RESTART
                    sigemptyset(&action.sa_mask)
                    var old = sigaction()
                    if sigaction(signal, &action, &old) == 0 { state.previous[signal] = old }
                }
            }
            state.depth += 1
        }
        // A mask inherited blocked would keep the signals pending past the change: let this thread take them.
        var set = sigset_t()
        sigemptyset(&set)
        for signal in held { sigaddset(&set, signal) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Stops holding (the last call restores the previous handlers) and returns the signal that arrived
    /// meanwhile, if any, clearing it; the caller decides when to `raisePending` it.
    @discardableResult
    public static func release() -> Int32? {
        state.withLock { state in
            state.depth = max(0, state.depth - 1)
            if state.depth == 0 {
                for (signal, old) in state.previous {
                    var previous = old
                    sigaction(signal, &previous, nil)
                }
                state.previous = [:]
            }
        }
        let signal = noted.exchange(0, ordering: .relaxed)
        return signal == 0 ? nil : signal
    }

    /// The signal that arrived since `hold`, without clearing it.
    public static var pending: Int32? {
        let signal = noted.load(ordering: .relaxed)
        return signal == 0 ? nil : signal
    }

    /// Ends the process by `signal` as if it had not been held (restoring the default action first when
    /// the previous one was a handler that already ran); nil does nothing.
    public static func raisePending(_ signal: Int32?) {
        guard let signal else { return }
        raise(signal)
    }

    /// The signal's name, e.g. "SIGTERM".
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }

    private static func note(_ signal: Int32) {
        // Keep the first signal; an async-signal-safe atomic store.
        _ = noted.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
    }
}
