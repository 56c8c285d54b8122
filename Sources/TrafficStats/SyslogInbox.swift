import AccessLog
import Foundation

/// Which host and log a syslog message belongs to: the hostname field matched to the fleet's hosts, the tag to a
/// log role (the `tag=` of each `access_log syslog:` in the config).
public struct SyslogRouter: Sendable {
    /// The hosts' display names, in `hosts:` order (the host index of a line is its position here).
    public let hosts: [String]
    /// Whether any hostname counts for the single host (no `hosts:` list: one nginx, whatever it calls itself).
    public let acceptsAnyHostname: Bool
    private let byName: [String: Int]
    private let tags: [String: LogRole]

    /// Creates a router.
    ///
    /// - Parameters:
    ///   - hosts: per host its name and the other hostnames its messages may carry (`syslog_name`).
    ///   - tags: the tag of each log role.
    ///   - acceptsAnyHostname: attribute every message to the first host (used without a `hosts:` list).
    public init(hosts: [(name: String, aliases: [String])], tags: [String: LogRole], acceptsAnyHostname: Bool = false) {
        self.hosts = hosts.map(\.name)
        var names: [String: Int] = [:]
        for (index, host) in hosts.enumerated() {
            for alias in [host.name] + host.aliases {
                let key = alias.lowercased()
                if names[key] == nil { names[key] = index }
            }
        }
        byName = names
        var lowered: [String: LogRole] = [:]
        for (tag, role) in tags { lowered[tag.lowercased()] = role }
        self.tags = lowered
        self.acceptsAnyHostname = acceptsAnyHostname && !hosts.isEmpty
    }

    /// The host index of a hostname: exact (case-insensitive) on a name or alias, else its first label
    /// (`edge1.example.com` → `edge1`); nil for a host not in the list.
    public func host(_ hostname: String) -> Int? {
        if acceptsAnyHostname { return 0 }
        let key = hostname.lowercased()
        if let index = byName[key] { return index }
        if let dot = key.firstIndex(of: "."), let index = byName[String(key[..<dot])] { return index }
        return nil
    }

    /// The role of a tag; nil for a tag no access_log of the config names.
    public func role(_ tag: String) -> LogRole? { tags[tag.lowercased()] }

    /// The stream index of (host, role): two per host, main first.
    public static func stream(host: Int, role: LogRole) -> Int { host * 2 + (role == .migration ? 1 : 0) }
}

/// How syslog reached the listener.
public enum SyslogTransport: String, Sendable, Hashable {
    case udp
    case tcp
}

/// What the syslog listener received and could not use, for `status` and the dashboard: nothing is dropped silently.
public struct SyslogCounters: Sendable, Hashable {
    /// Messages received (every transport), usable or not.
    public var received = 0
    /// Messages received over UDP.
    public var udp = 0
    /// Messages received over TCP.
    public var tcp = 0
    /// Messages that are no syslog message (no `<PRI>` or no header).
    public var malformed = 0
    /// Messages from a hostname no host of `hosts:` carries, per hostname (at most 32 names; the rest under "…").
    public var unknownHosts: [String: Int] = [:]
    /// Messages with a tag no `access_log syslog:` of the config names, per tag (bounded as above).
    public var unknownTags: [String: Int] = [:]
    /// Messages lost because the ingest fell behind by more than the inbox holds (UDP only: TCP waits instead).
    public var overflow = 0
    /// Datagrams the kernel dropped on the UDP socket (its receive buffer was full), from the socket's counter.
    public var kernelDrops = 0
    /// TCP connections open now.
    public var tcpConnections = 0
    /// Frames cut at the largest message size.
    public var oversized = 0
    /// Up to five malformed messages, newest last.
    public var malformedSamples: [String] = []

    public init() {}

    /// Messages lost over UDP (by the kernel or the inbox): when above zero, send over TCP instead.
    public var udpLost: Int { kernelDrops + overflow }

    /// Messages from unknown hosts.
    public var unknownHostMessages: Int { unknownHosts.values.reduce(0, +) }

    static let nameLimit = 32

    mutating func count(_ name: String, in table: WritableKeyPath<SyslogCounters, [String: Int]>) {
        if self[keyPath: table][name] != nil || self[keyPath: table].count < Self.nameLimit {
            self[keyPath: table][name, default: 0] += 1
        } else {
            self[keyPath: table]["…", default: 0] += 1
        }
    }

    mutating func merge(_ other: SyslogCounters) {
        received += other.received
        udp += other.udp
        tcp += other.tcp
        malformed += other.malformed
        overflow += other.overflow
        oversized += other.oversized
        for (name, n) in other.unknownHosts { unknownHosts[name, default: 0] += n }
        for (name, n) in other.unknownTags { unknownTags[name, default: 0] += n }
        if unknownHosts.count > Self.nameLimit * 2 { unknownHosts = Dictionary(uniqueKeysWithValues: unknownHosts.sorted { $0.value > $1.value }.prefix(Self.nameLimit).map { ($0.key, $0.value) }) }
        if unknownTags.count > Self.nameLimit * 2 { unknownTags = Dictionary(uniqueKeysWithValues: unknownTags.sorted { $0.value > $1.value }.prefix(Self.nameLimit).map { ($0.key, $0.value) }) }
        malformedSamples = Array((malformedSamples + other.malformedSamples).suffix(5))
    }
}

/// The lines of one read of the listener (a datagram burst or a TCP read), routed to their streams; made and
/// filled on the listener's event loop, then handed over to the `SyslogInbox` in one step.
public struct SyslogBatch: Sendable {
    /// Per stream (see `SyslogRouter.stream`): the log lines, each followed by a newline.
    var lines: [[UInt8]]
    /// Per stream: lines held.
    var lineCounts: [Int]
    var counters = SyslogCounters()
    private var lastHost: [UInt8] = []
    private var lastHostIndex: Int?

    /// An empty batch for `streams` streams.
    public init(streams: Int) {
        lines = Array(repeating: [], count: streams)
        lineCounts = Array(repeating: 0, count: streams)
    }

    /// Bytes held.
    public var byteCount: Int { lines.reduce(0) { $0 + $1.count } }
    /// Lines held.
    public var lineCount: Int { lineCounts.reduce(0, +) }

    /// Splits one message, routes it and keeps its log line (or counts why not).
    public mutating func add(_ message: UnsafeRawBufferPointer, transport: SyslogTransport, router: SyslogRouter) {
        counters.received += 1
        switch transport {
        case .udp: counters.udp += 1
        case .tcp: counters.tcp += 1
        }
        let frame: SyslogFrame
        switch SyslogFrame.parse(message) {
        case .success(let f): frame = f
        case .failure:
            counters.malformed += 1
            var text = String(decoding: message.prefix(200), as: UTF8.self)
            text = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\u{FFFD}" : Character($0) })
            counters.malformedSamples = Array((counters.malformedSamples + [text]).suffix(5))
            return
        }
        let hostBytes = UnsafeRawBufferPointer(rebasing: message[frame.hostname])
        let host: Int?
        if let cached = lastHostIndex, hostBytes.elementsEqual(lastHost) {
            host = cached
        } else {
            let name = String(decoding: hostBytes, as: UTF8.self)
            host = router.host(name)
            guard let host else {
                counters.count(name.isEmpty ? "(no hostname: nohostname)" : name, in: \.unknownHosts)
                return
            }
            lastHost = Array(hostBytes)
            lastHostIndex = host
        }
        guard let host else { return }
        let tag = String(decoding: UnsafeRawBufferPointer(rebasing: message[frame.tag]), as: UTF8.self)
        guard let role = router.role(tag) else {
            counters.count(tag, in: \.unknownTags)
            return
        }
        let stream = SyslogRouter.stream(host: host, role: role)
        guard stream < lines.count else { return }
        lines[stream].append(contentsOf: UnsafeRawBufferPointer(rebasing: message[frame.message]))
        lines[stream].append(0x0A)
        lineCounts[stream] += 1
    }

    /// Counts frames cut at the largest size (from the TCP framer).
    public mutating func noteOversized(_ n: Int) { counters.oversized += n }

    mutating func clear() {
        for i in lines.indices { lines[i].removeAll(keepingCapacity: true); lineCounts[i] = 0 }
        counters = SyslogCounters()
    }
}

/// The hand-off of syslog lines from the listener's event loop to the ingest task, with the listener's counters.
///
/// The listener `deliver`s batches; the ingest task (`TrafficEngine.poll`) `drain`s them. Holds at most
/// `capacityBytes` of lines: beyond that a UDP batch is counted as overflow, and TCP readers wait
/// (`hasRoom` tells them when to read again), so nothing sent over TCP is lost.
public final class SyslogInbox: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: SyslogBatch
    private var spare: SyslogBatch
    private var totals = SyslogCounters()
    private var delivered = 0
    /// The routing of messages to hosts and logs.
    public let router: SyslogRouter
    /// The most bytes of lines held before UDP batches are refused and TCP readers wait.
    public let capacityBytes: Int

    /// Creates an inbox for `router`'s hosts (two streams per host: main and migration).
    public init(router: SyslogRouter, capacityBytes: Int = 64 << 20) {
        self.router = router
        self.capacityBytes = capacityBytes
        pending = SyslogBatch(streams: router.hosts.count * 2)
        spare = SyslogBatch(streams: router.hosts.count * 2)
    }

    /// Streams (two per host).
    public var streamCount: Int { router.hosts.count * 2 }

    /// A new empty batch for this inbox's streams.
    public func makeBatch() -> SyslogBatch { SyslogBatch(streams: streamCount) }

    /// Whether the inbox has room for more lines (TCP readers pause while it has none).
    public var hasRoom: Bool {
        lock.lock()
        defer { lock.unlock() }
        return pendingBytes < capacityBytes
    }

    private var pendingBytes = 0

    /// Hands a batch over (and empties it for reuse). A UDP batch that does not fit is counted as overflow.
    public func deliver(_ batch: inout SyslogBatch, transport: SyslogTransport) {
        let bytes = batch.byteCount
        lock.lock()
        if transport == .udp, pendingBytes + bytes > capacityBytes {
            batch.counters.overflow += batch.lineCount
        } else {
            for i in batch.lines.indices where !batch.lines[i].isEmpty {
                pending.lines[i].append(contentsOf: batch.lines[i])
                pending.lineCounts[i] += batch.lineCounts[i]
            }
            pendingBytes += bytes
            delivered += batch.lineCount
        }
        totals.merge(batch.counters)
        lock.unlock()
        batch.clear()
    }

    /// Sets the kernel's drop counter of the UDP socket and the open TCP connections.
    public func noteSocketState(kernelDrops: Int? = nil, tcpConnections: Int? = nil) {
        lock.lock()
        if let kernelDrops { totals.kernelDrops = kernelDrops }
        if let tcpConnections { totals.tcpConnections = tcpConnections }
        lock.unlock()
    }

    /// The counters so far.
    public var counters: SyslogCounters {
        lock.lock()
        defer { lock.unlock() }
        return totals
    }

    /// Lines handed over so far (to the ingest, not yet necessarily drained).
    public var deliveredLines: Int {
        lock.lock()
        defer { lock.unlock() }
        return delivered
    }

    /// Takes every line held; calls `body` with each stream's lines (each line followed by a newline), then
    /// returns the bytes taken. Runs `body` outside the lock.
    @discardableResult
    public func drain(_ body: (_ stream: Int, _ lines: UnsafeRawBufferPointer) -> Void) -> Int {
        lock.lock()
        guard pendingBytes > 0 else { lock.unlock(); return 0 }
        swap(&pending, &spare)
        let taken = pendingBytes
        pendingBytes = 0
        lock.unlock()
        for i in spare.lines.indices where !spare.lines[i].isEmpty {
            spare.lines[i].withUnsafeBytes { body(i, $0) }
        }
        spare.clear()
        return taken
    }
}
