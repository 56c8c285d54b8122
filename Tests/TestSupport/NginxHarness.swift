import Apply
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a real nginx in a temp prefix for integration tests: writes its config, starts it daemonized
/// with a pid file inside the prefix, waits for ports, and stops it by pid.
///
/// Always `defer { harness.stop() }` right after `start()`.
public final class NginxHarness: @unchecked Sendable {
    /// Why the harness could not start or reach nginx.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String

        /// Creates a failure saying what went wrong.
        public init(description: String) {
            self.description = description
        }
    }

    /// The temp prefix directory.
    public let directory: TempDir
    /// The nginx binary.
    public let binary: String
    private let runner = ProcessRunner()

    /// Creates a prefix with an empty `conf.d/`; write the configs, then `start()`.
    public init(binary: String = "nginx") throws {
        directory = try TempDir(prefix: "cutover-nginx")
        self.binary = binary
        try FileManager.default.createDirectory(atPath: directory.file("conf.d"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory.file("tmp"), withIntermediateDirectories: true)
    }

    /// The prefix path.
    public var prefix: String { directory.path }
    /// The main config path.
    public var mainConfig: String { directory.file("nginx.conf") }
    /// An argv prefix nginx is started through (`[nsenter, -t, PID, -u, --]` to start it on a test host with
    /// its own hostname); empty starts it directly.
    public var launcher: [String] = []

    /// The pid file path.
    public var pidFile: String { directory.file("nginx.pid") }
    /// The error log path.
    public var errorLog: String { directory.file("error.log") }

    /// This nginx as the apply pipeline addresses it.
    public var location: NginxLocation {
        NginxLocation(binary: binary, prefix: prefix, mainConfig: mainConfig, pidFile: pidFile, errorLog: errorLog)
    }

    /// A main config with one worker, the pid file and error log in the prefix, `extraHTTP` in the http
    /// block and every `conf.d/*.conf` included.
    public func standardMainConfig(extraHTTP: String = "") -> String {
        """
        worker_processes 1;
        daemon on;
        master_process on;
        pid \(pidFile);
        error_log \(errorLog) notice;
        events { worker_connections 512; }
        http {
            access_log off;
            client_body_temp_path \(prefix)/tmp/body;
            proxy_temp_path \(prefix)/tmp/proxy;
            fastcgi_temp_path \(prefix)/tmp/fastcgi;
            uwsgi_temp_path \(prefix)/tmp/uwsgi;
            scgi_temp_path \(prefix)/tmp/scgi;
            \(extraHTTP)
            include \(prefix)/conf.d/*.conf;
        }

        """
    }

    /// Writes `text` to `name` inside the prefix and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        try directory.write(name, text)
    }

    /// Starts nginx (`nginx -p PREFIX -c PREFIX/nginx.conf -e PREFIX/error.log`), waits for its pid
    /// file and for every port in `ports` to accept connections, each within `timeout`.
    public func start(waitingFor ports: [Int] = [], timeout: Duration = .seconds(10)) throws {
        let result = try runner.run(launcher + [binary, "-p", prefix, "-c", mainConfig, "-e", errorLog], timeout: timeout)
        guard result.succeeded else {
            throw Failure(description: "nginx did not start: \(result.summary): \(result.message)")
        }
        let deadline = ContinuousClock.now + timeout
        while masterPid == nil {
            guard ContinuousClock.now < deadline else { throw Failure(description: "nginx wrote no pid file \(pidFile)") }
            usleep(5_000)
        }
        for port in ports { try waitForPort(port, timeout: timeout) }
    }

    /// The master's pid from the pid file, when it is there.
    public var masterPid: Int32? { ProcessTable.readPid(pidFile) }

    /// Waits until 127.0.0.1:`port` accepts a TCP connection.
    public func waitForPort(_ port: Int, timeout: Duration = .seconds(10)) throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let fd = try? HTTPTestClient.connect(port: port) {
                close(fd)
                return
            }
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "nothing listens on 127.0.0.1:\(port) after \(timeout)")
            }
            usleep(5_000)
        }
    }

    /// Stops nginx by the pid in its pid file (SIGTERM, then SIGKILL to it and its children after
    /// `timeout`) and waits until it is gone; safe to call twice.
    public func stop(timeout: Duration = .seconds(5)) {
        guard let pid = masterPid, ProcessTable.isAlive(pid) else { return }
        let children = ProcessTable.children(of: pid)
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while ProcessTable.isAlive(pid) && ContinuousClock.now < deadline { usleep(5_000) }
        if ProcessTable.isAlive(pid) {
            kill(pid, SIGKILL)
            for child in children { kill(child, SIGKILL) }
        }
    }

    /// The error log's text (empty when missing).
    public func errorLogText() -> String {
        (try? directory.read("error.log")) ?? ""
    }
}

/// A minimal HTTP/1.1 keep-alive client for tests: GET over one socket, reconnecting (and retrying once)
/// when the server closed an idle keep-alive connection, e.g. an old worker after a reload.
public final class HTTPTestClient: @unchecked Sendable {
    /// A response: status, headers (lowercased names) and body.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// The headers, names lowercased.
        public var headers: [String: String]
        /// The body as text.
        public var body: String
    }

    /// Why a request failed.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String

        /// Creates a failure saying what went wrong.
        public init(description: String) {
            self.description = description
        }
    }

    /// The port on 127.0.0.1.
    public let port: Int
    /// How many requests were retried on a new connection after the server closed a kept-alive one.
    public private(set) var retries = 0
    private var fd: Int32 = -1
    private let timeoutSeconds: Int

    /// Creates a client for 127.0.0.1:`port`; each read or write waits at most `timeoutSeconds`.
    public init(port: Int, timeoutSeconds: Int = 5) {
        self.port = port
        self.timeoutSeconds = timeoutSeconds
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Opens a TCP connection to 127.0.0.1:`port`.
    public static func connect(port: Int, timeoutSeconds: Int = 5) throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let saved = errno
            close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port): \(String(cString: strerror(saved)))")
        }
        return fd
    }

    /// Sends `GET path` on the kept-alive connection; if that connection turns out closed by the server
    /// before any response byte, reconnects and retries once (counted in `retries`).
    public func get(_ path: String) throws -> Response {
        let reused = fd >= 0
        if fd < 0 { fd = try Self.connect(port: port, timeoutSeconds: timeoutSeconds) }
        do {
            return try exchange(path)
        } catch let error as ClosedBeforeResponse {
            closeConnection()
            guard reused else { throw Failure(description: error.description) }
            retries += 1
            fd = try Self.connect(port: port, timeoutSeconds: timeoutSeconds)
            do {
                return try exchange(path)
            } catch {
                closeConnection()
                throw Failure(description: "retry failed: \(error)")
            }
        } catch {
            closeConnection()
            throw error
        }
    }

    /// Closes the connection; the next request opens a new one.
    public func closeConnection() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    private struct ClosedBeforeResponse: Error, CustomStringConvertible {
        var description: String
    }

    private func exchange(_ path: String) throws -> Response {
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
        let sent = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        if sent < 0 { throw ClosedBeforeResponse(description: "send: \(String(cString: strerror(errno)))") }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        var headerEnd: Int?
        var contentLength = 0
        var status = 0
        var headers: [String: String] = [:]
        while true {
            if let end = headerEnd, data.count >= end + contentLength { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                let reason = n == 0 ? "connection closed" : String(cString: strerror(errno))
                if data.isEmpty && (n == 0 || errno == ECONNRESET) { throw ClosedBeforeResponse(description: reason) }
                throw Failure(description: "reading response from 127.0.0.1:\(port): \(reason)")
            }
            data += buffer[0..<n]
            if headerEnd == nil, let range = findHeaderEnd(data) {
                headerEnd = range
                let head = String(decoding: data[0..<range], as: UTF8.self)
                let lines = head.components(separatedBy: "\r\n")
                let statusParts = lines.first?.split(separator: " ") ?? []
                status = statusParts.count > 1 ? Int(statusParts[1]) ?? 0 : 0
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                contentLength = Int(headers["content-length"] ?? "0") ?? 0
            }
        }
        let start = headerEnd ?? 0
        let body = String(decoding: data[start..<(start + contentLength)], as: UTF8.self)
        if headers["connection"]?.lowercased() == "close" { closeConnection() }
        return Response(status: status, headers: headers, body: body)
    }

    private func findHeaderEnd(_ data: [UInt8]) -> Int? {
        guard data.count >= 4 else { return nil }
        for i in 0...(data.count - 4) where data[i] == 13 && data[i + 1] == 10 && data[i + 2] == 13 && data[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}
