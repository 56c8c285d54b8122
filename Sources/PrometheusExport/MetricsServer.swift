import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Where `--metrics` listens: a host (name, IPv4 or bracketed IPv6 address) and a port.
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    /// The host to bind (`127.0.0.1`, `0.0.0.0`, `::1`).
    public var host: String
    /// The port (0 picks a free one).
    public var port: Int

    /// An address as given.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reads `ADDR:PORT` (`127.0.0.1:9464`, `[::1]:9464`, `:9464` for every address), saying what is wrong.
    public init(parsing text: String) throws(MetricsAddressError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw MetricsAddressError("--metrics takes ADDR:PORT (e.g. 127.0.0.1:9464), found \"\(text)\"")
        }
        var host = String(text[..<colon])
        let portText = String(text[text.index(after: colon)...])
        let bracketed = host.hasPrefix("[") && host.hasSuffix("]")
        if bracketed { host = String(host.dropFirst().dropLast()) }
        guard bracketed || !host.contains(":") else {
            throw MetricsAddressError("--metrics: write an IPv6 address in brackets, e.g. [::1]:9464")
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw MetricsAddressError("--metrics: the port must be a number from 0 to 65535 (e.g. 127.0.0.1:9464), found \"\(portText)\"")
        }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `--metrics` was given something that is not ADDR:PORT.
public struct MetricsAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and what to write instead.
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The small HTTP/1.1 server of `--metrics`, on SwiftNIO (its HTTP parser and pipelining): `GET /metrics` in the
/// Prometheus text format and `GET /healthz` for liveness; anything else is 404, other methods 405.
public final class MetricsServer: @unchecked Sendable {
    /// The address actually bound (the port filled in when 0 was asked for).
    public let address: MetricsAddress
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    private init(address: MetricsAddress, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.address = address
        self.group = group
        self.channel = channel
    }

    /// Binds `address` and serves `render()` (called on the server's thread for each scrape) and `health()`
    /// (the `/healthz` body; nil answers 503).
    public static func start(_ address: MetricsAddress, render: @escaping @Sendable () -> [UInt8],
                             health: @escaping @Sendable () -> String? = { "ok" }) throws -> MetricsServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(render: render, health: health))
                }
            }
            .childChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        let channel: any Channel
        do {
            channel = try bootstrap.bind(host: address.host, port: address.port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw MetricsAddressError("--metrics: cannot listen on \(address): \(error); pick a free port or another address")
        }
        var bound = address
        if let port = channel.localAddress?.port { bound.port = port }
        return MetricsServer(address: bound, group: group, channel: channel)
    }

    /// Stops listening and ends the server's thread.
    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Answers one request at a time on a connection (NIO's pipeline handler orders pipelined requests).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () -> [UInt8]
    private let health: @Sendable () -> String?
    private var head: HTTPRequestHead?

    init(render: @escaping @Sendable () -> [UInt8], health: @escaping @Sendable () -> String?) {
        self.render = render
        self.health = health
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, to: head)
        }
    }

    /// The status, content type and body for a request.
    static func answer(method: HTTPMethod, path: String, render: () -> [UInt8], health: () -> String?) -> (HTTPResponseStatus, String, [UInt8]) {
        let text = "text/plain; charset=utf-8"
        guard method == .GET || method == .HEAD else {
            return (.methodNotAllowed, text, Array("only GET and HEAD are served\n".utf8))
        }
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", render())
        case "/healthz":
            if let body = health() { return (.ok, text, Array((body + "\n").utf8)) }
            return (.serviceUnavailable, text, Array("unhealthy\n".utf8))
        default:
            return (.notFound, text, Array("not found: cutover serves /metrics and /healthz\n".utf8))
        }
    }

    private func respond(context: ChannelHandlerContext, to head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        let (status, type, body) = Self.answer(method: head.method, path: path, render: render, health: health)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = head.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
