import AccessLog
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TrafficStats

/// Why the syslog listener could not start.
public struct SyslogListenerError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The syslog listener of `logs.syslog: ADDR:PORT`: receives nginx's access-log messages over UDP and TCP on one
/// port, on an event loop of its own, and hands their lines to a `SyslogInbox` (read by the traffic ingest).
///
/// UDP: one message per datagram (what nginx sends). TCP: octet counting or one message per line
/// (`SyslogStreamFramer`); a TCP reader pauses while the inbox is full, so no line sent over TCP is lost.
/// The kernel's drop counter of the UDP socket is read every second into the inbox's counters.
public final class SyslogListener: @unchecked Sendable {
    /// The inbox the lines go to.
    public let inbox: SyslogInbox
    private let host: String
    private let requestedPort: Int
    private let udpReceiveBuffer: Int
    private let group: MultiThreadedEventLoopGroup
    private var udp: Channel?
    private var tcp: Channel?
    private let connections = NIOLockedValueBox(0)
    private var dropTask: RepeatedTask?
    /// The UDP drops the socket showed when it was bound (a reused port may carry an old socket's count).
    private var baselineDrops = 0

    /// The port bound (the one asked for, or the one the system chose for port 0).
    public private(set) var port = 0

    /// Creates a listener for `address` (`127.0.0.1:5514`, `0.0.0.0:514`, `[::1]:5514`); call `start()`.
    ///
    /// - Parameter udpReceiveBuffer: the UDP socket's receive buffer (SO_RCVBUF); bigger rides out bursts.
    public init(address: String, inbox: SyslogInbox, udpReceiveBuffer: Int = 8 << 20) throws {
        guard let (host, port) = Self.split(address) else {
            throw SyslogListenerError(description: "logs.syslog \"\(address)\" is not ADDR:PORT; write it like 127.0.0.1:5514 (or [::1]:5514)")
        }
        self.host = host
        requestedPort = port
        self.inbox = inbox
        self.udpReceiveBuffer = udpReceiveBuffer
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    deinit {
        stop()
    }

    /// Splits `ADDR:PORT` (brackets around IPv6); nil when malformed.
    public static func split(_ address: String) -> (String, Int)? {
        var host = address
        var portText: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return nil }
            host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = address.lastIndex(of: ":") else { return nil }
            host = String(address[..<colon])
            portText = address[address.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (host, port)
    }

    /// The receive space per datagram: at least the largest UDP payload (65,527 bytes), so none is cut.
    static let datagramSlot = 64 * 1024

    /// Binds UDP and TCP on the same port (UDP first for a given port; TCP first for port 0, so it picks one
    /// free for both) and starts receiving.
    public func start() throws {
        let inbox = inbox
        let connections = connections
        let tcpBootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPSyslogHandler(inbox: inbox, connections: connections))
                }
            }
        let udpBootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(udpReceiveBuffer))
            .channelOption(.datagramVectorReadMessageCount, value: 16)
            // A vector read splits the buffer into one slot per message; each slot holds the largest UDP
            // payload there is (65,507 bytes over IPv4, 65,527 over IPv6), so no datagram is ever cut.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * SyslogListener.datagramSlot))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPSyslogHandler(inbox: inbox))
                }
            }
        func bindTCP(_ port: Int) throws {
            do {
                let server = try tcpBootstrap.bind(host: host, port: port).wait()
                tcp = server
                self.port = server.localAddress?.port ?? port
            } catch {
                throw SyslogListenerError(description: "cannot listen for syslog on TCP \(host):\(port): \(error); pick a free port in logs.syslog")
            }
        }
        func bindUDP(_ port: Int) throws {
            do {
                udp = try udpBootstrap.bind(host: host, port: port).wait()
            } catch {
                throw SyslogListenerError(description: "cannot listen for syslog on UDP \(host):\(port): \(error); pick a free port in logs.syslog")
            }
        }
        do {
            if requestedPort == 0 {
                // TCP first, so port 0 picks one free for both.
                try bindTCP(0)
                try bindUDP(port)
            } else {
                // UDP first: once the TCP port accepts (what a sender or a test waits for), UDP is bound too, and
                // no datagram nginx sends meanwhile is refused.
                port = requestedPort
                try bindUDP(requestedPort)
                try bindTCP(requestedPort)
            }
        } catch {
            try? udp?.close().wait()
            try? tcp?.close().wait()
            udp = nil
            tcp = nil
            throw error
        }
        let port = port
        baselineDrops = UDPDropCounter.read(port: port) ?? 0
        let baseline = baselineDrops
        dropTask = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .seconds(1)) { _ in
            let drops = UDPDropCounter.read(port: port).map { max(0, $0 - baseline) }
            inbox.noteSocketState(kernelDrops: drops, tcpConnections: connections.withLockedValue { $0 })
        }
    }

    /// Reads the UDP socket's drop counter now (the listener also does it every second).
    public func refreshCounters() {
        let drops = UDPDropCounter.read(port: port).map { max(0, $0 - baselineDrops) }
        inbox.noteSocketState(kernelDrops: drops, tcpConnections: connections.withLockedValue { $0 })
    }

    /// Closes both sockets and ends the event loop (idempotent).
    public func stop() {
        dropTask?.cancel()
        dropTask = nil
        try? udp?.close().wait()
        try? tcp?.close().wait()
        udp = nil
        tcp = nil
        try? group.syncShutdownGracefully()
    }
}

/// Receives datagrams: one syslog message each; hands the batch over after every read burst.
final class UDPSyslogHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let inbox: SyslogInbox
    private var batch: SyslogBatch

    init(inbox: SyslogInbox) {
        self.inbox = inbox
        batch = inbox.makeBatch()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let router = inbox.router
        envelope.data.withUnsafeReadableBytes { batch.add($0, transport: .udp, router: router) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inbox.deliver(&batch, transport: .udp)
    }
}

/// Receives one TCP connection's stream, frames it, and pauses reading while the inbox is full.
final class TCPSyslogHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let inbox: SyslogInbox
    private let connections: NIOLockedValueBox<Int>
    private var framer = SyslogStreamFramer()
    private var batch: SyslogBatch
    private var reported = 0

    init(inbox: SyslogInbox, connections: NIOLockedValueBox<Int>) {
        self.inbox = inbox
        self.connections = connections
        batch = inbox.makeBatch()
    }

    func channelActive(context: ChannelHandlerContext) {
        connections.withLockedValue { $0 += 1 }
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        framer.finish { batch.add($0, transport: .tcp, router: inbox.router) }
        handOver()
        connections.withLockedValue { $0 -= 1 }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let router = inbox.router
        buffer.withUnsafeReadableBytes { bytes in
            framer.feed(bytes) { batch.add($0, transport: .tcp, router: router) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        handOver()
        readWhenRoom(context: context)
    }

    private func handOver() {
        if framer.oversized > reported {
            batch.noteOversized(framer.oversized - reported)
            reported = framer.oversized
        }
        inbox.deliver(&batch, transport: .tcp)
    }

    /// Asks for the next read once the inbox has room (checking again every 5 ms until then).
    private func readWhenRoom(context: ChannelHandlerContext) {
        if inbox.hasRoom {
            context.read()
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(5)) {
            let (handler, context) = loopBound.value
            guard context.channel.isActive else { return }
            handler.readWhenRoom(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// Reads the kernel's count of datagrams dropped on a UDP socket (the `drops` column of `/proc/net/udp` and
/// `/proc/net/udp6`, for the sockets bound to the port): a full receive buffer drops datagrams before any
/// program sees them, so only the kernel can tell.
public enum UDPDropCounter {
    /// The drops of the sockets bound to `port`, from this machine's tables; nil when they cannot be read.
    public static func read(port: Int) -> Int? {
        var total: Int?
        for file in ["/proc/net/udp", "/proc/net/udp6"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            if let n = drops(table: text, port: port) { total = (total ?? 0) + n }
        }
        return total
    }

    /// The drops of the sockets bound to `port` in one table's text; nil when no socket is bound to it.
    public static func drops(table: String, port: Int) -> Int? {
        let hexPort = String(format: "%04X", port)
        var total: Int?
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            guard fields.count >= 13 else { continue }
            let local = fields[1]
            guard let colon = local.lastIndex(of: ":"), local[local.index(after: colon)...].uppercased() == hexPort,
                  let drops = Int(fields[12]) else { continue }
            total = (total ?? 0) + drops
        }
        return total
    }
}
