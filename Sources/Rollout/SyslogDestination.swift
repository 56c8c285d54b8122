/// The parameters of an `access_log syslog:server=ADDR[:PORT][,facility=F][,severity=S][,tag=T][,nohostname]`
/// destination, read with nginx's rules (`src/core/ngx_syslog.c`: port 514 by default, tag `nginx` by default,
/// a tag of at most 32 letters, digits and underscores).
public struct SyslogDestination: Sendable, Equatable {
    /// The `server=` value as written (`127.0.0.1:5514`, `[::1]:514`, `unix:/dev/log`).
    public var server: String
    /// The address part of `server=` (brackets removed for IPv6).
    public var address: String
    /// The port (514 when not given; 0 for a unix socket).
    public var port: Int
    /// The `tag=` (nginx's default `nginx` when not given).
    public var tag: String
    /// Whether `tag=` was given explicitly.
    public var tagGiven: Bool
    public var facility: String?
    public var severity: String?
    /// `nohostname`: messages carry no hostname field (so Cutover cannot tell the host).
    public var nohostname: Bool

    /// The default tag nginx writes when the destination names none.
    public static let defaultTag = "nginx"

    /// Reads a `syslog:...` access_log path; nil when the path is no syslog destination.
    ///
    /// - Throws: `SyslogDestinationError` for what nginx itself would reject.
    public static func parse(_ path: String) throws(SyslogDestinationError) -> SyslogDestination? {
        guard path.hasPrefix("syslog:") else { return nil }
        var server: String?
        var tag: String?
        var facility: String?
        var severity: String?
        var nohostname = false
        for part in path.dropFirst("syslog:".count).split(separator: ",", omittingEmptySubsequences: false) {
            let p = String(part)
            if p.hasPrefix("server=") {
                guard server == nil else { throw .init("duplicate syslog \"server\" in \(path)") }
                server = String(p.dropFirst(7))
            } else if p.hasPrefix("tag=") {
                guard tag == nil else { throw .init("duplicate syslog \"tag\" in \(path)") }
                let t = String(p.dropFirst(4))
                guard t.utf8.count <= 32 else { throw .init("syslog tag \"\(t)\" is longer than 32 characters; nginx rejects it") }
                guard !t.isEmpty, t.unicodeScalars.allSatisfy({ $0.isASCII && ($0 == "_" || ("0"..."9").contains($0) || ("a"..."z").contains($0) || ("A"..."Z").contains($0)) }) else {
                    throw .init("syslog tag \"\(t)\" may hold only letters, digits and underscores (nginx's rule)")
                }
                tag = t
            } else if p.hasPrefix("facility=") {
                facility = String(p.dropFirst(9))
            } else if p.hasPrefix("severity=") {
                severity = String(p.dropFirst(9))
            } else if p == "nohostname" {
                nohostname = true
            } else {
                throw .init("unknown syslog parameter \"\(p)\" in \(path); nginx knows server=, facility=, severity=, tag= and nohostname")
            }
        }
        guard let server, !server.isEmpty else { throw .init("\(path) has no server=ADDR[:PORT]; nginx requires one") }
        var address = server
        var port = 514
        if server.hasPrefix("unix:") {
            port = 0
        } else if server.hasPrefix("[") {
            guard let close = server.firstIndex(of: "]") else { throw .init("syslog server \"\(server)\" has an unclosed [") }
            address = String(server[server.index(after: server.startIndex)..<close])
            let rest = server[server.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let p = Int(rest.dropFirst()), (1...65535).contains(p) else { throw .init("syslog server \"\(server)\" has an invalid port") }
                port = p
            }
        } else if let colon = server.lastIndex(of: ":") {
            address = String(server[..<colon])
            guard let p = Int(server[server.index(after: colon)...]), (1...65535).contains(p) else {
                throw .init("syslog server \"\(server)\" has an invalid port")
            }
            port = p
        }
        return SyslogDestination(server: server, address: address, port: port, tag: tag ?? defaultTag, tagGiven: tag != nil,
                                 facility: facility, severity: severity, nohostname: nohostname)
    }

    /// Whether this destination sends to `address:port` (loopback and wildcard spellings of a listen address match
    /// the port alone, as the operator may write either `127.0.0.1` or `localhost`).
    public func sends(toPort listenPort: Int) -> Bool { port == listenPort }
}

/// A `syslog:` access_log parameter nginx would reject.
public struct SyslogDestinationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension AccessLogBinding {
    /// The syslog destination this binding sends to; nil for a file (or an unreadable `syslog:` value).
    public var syslog: SyslogDestination? { (try? SyslogDestination.parse(path)) ?? nil }
}
