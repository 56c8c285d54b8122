/// nginx's variable rules: the names its modules define, its prefix variables, name syntax, and how a
/// complex value (`"/v3/$1/${arg_id}"`) refers to variables (`ngx_http_script_compile`).
public enum NginxVariables {
    /// The variables nginx 1.22's HTTP modules define (lowercase; names are case-insensitive).
    public static let builtins: Set<String> = [
        "ancient_browser", "args", "binary_remote_addr", "body_bytes_sent", "bytes_sent", "connection",
        "connection_requests", "connection_time", "connections_active", "connections_reading", "connections_waiting",
        "connections_writing", "content_length", "content_type", "date_gmt", "date_local", "document_root",
        "document_uri", "fastcgi_path_info", "fastcgi_script_name", "geoip_area_code", "geoip_city",
        "geoip_city_continent_code", "geoip_city_country_code", "geoip_city_country_code3", "geoip_city_country_name",
        "geoip_country_code", "geoip_country_code3", "geoip_country_name", "geoip_dma_code", "geoip_latitude",
        "geoip_longitude", "geoip_org", "geoip_postal_code", "geoip_region", "geoip_region_name",
        "grpc_internal_trailers", "gzip_ratio", "host", "hostname", "http2", "http_cookie", "http_host", "http_referer",
        "http_user_agent", "http_via", "http_x_forwarded_for", "https", "invalid_referer", "is_args",
        "limit_conn_status", "limit_rate", "limit_req_status", "modern_browser", "msec", "msie", "nginx_version", "pid",
        "pipe", "proxy_add_via", "proxy_add_x_forwarded_for", "proxy_host", "proxy_internal_body_length",
        "proxy_internal_chunked", "proxy_port", "proxy_protocol_addr", "proxy_protocol_port",
        "proxy_protocol_server_addr", "proxy_protocol_server_port", "query_string", "realip_remote_addr",
        "realip_remote_port", "realpath_root", "remote_addr", "remote_port", "remote_user", "request", "request_body",
        "request_body_file", "request_completion", "request_filename", "request_id", "request_length",
        "request_method", "request_time", "request_uri", "scheme", "secure_link", "secure_link_expires",
        "sent_http_cache_control", "sent_http_connection", "sent_http_content_length", "sent_http_content_type",
        "sent_http_keep_alive", "sent_http_last_modified", "sent_http_link", "sent_http_location",
        "sent_http_transfer_encoding", "server_addr", "server_name", "server_port", "server_protocol", "slice_range",
        "ssl_alpn_protocol", "ssl_cipher", "ssl_ciphers", "ssl_client_cert", "ssl_client_escaped_cert",
        "ssl_client_fingerprint", "ssl_client_i_dn", "ssl_client_i_dn_legacy", "ssl_client_raw_cert",
        "ssl_client_s_dn", "ssl_client_s_dn_legacy", "ssl_client_serial", "ssl_client_v_end", "ssl_client_v_remain",
        "ssl_client_v_start", "ssl_client_verify", "ssl_curve", "ssl_curves", "ssl_early_data", "ssl_protocol",
        "ssl_server_name", "ssl_session_id", "ssl_session_reused", "status", "tcpinfo_rcv_space", "tcpinfo_rtt",
        "tcpinfo_rttvar", "tcpinfo_snd_cwnd", "time_iso8601", "time_local", "uid_got", "uid_reset", "uid_set",
        "upstream_addr", "upstream_bytes_received", "upstream_bytes_sent", "upstream_cache_etag",
        "upstream_cache_last_modified", "upstream_cache_status", "upstream_connect_time", "upstream_header_time",
        "upstream_response_length", "upstream_response_time", "upstream_status", "uri",
    ]

    /// The built-ins a `map` or `split_clients` may redefine (`NGX_HTTP_VAR_CHANGEABLE`); any other built-in
    /// makes nginx fail with "the duplicate variable".
    public static let changeableBuiltins: Set<String> = ["args", "limit_rate"]

    /// nginx's prefix variables: any name starting with one of these exists (`$arg_id`, `$http_x_user`).
    public static let prefixes = ["arg_", "cookie_", "http_", "sent_http_", "sent_trailer_", "upstream_cookie_",
                                  "upstream_http_", "upstream_trailer_"]

    /// Whether nginx itself provides `name` (a built-in or a prefix variable), case-insensitively.
    public static func isProvided(_ name: String) -> Bool {
        let lower = MapKey.asciiLowercased(name)
        return builtins.contains(lower) || prefixes.contains { lower.hasPrefix($0) && lower.count > $0.count }
    }

    /// Whether `name` (without `$`) is a name nginx's script compiler reads whole: ASCII letters, digits, `_`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { b in
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
        }
    }

    /// A reference in a complex value.
    public enum Reference: Sendable, Equatable {
        /// `$name` or `${name}`.
        case variable(String)
        /// `$1`...`$9`: a regex capture.
        case capture(Int)
    }

    /// Why nginx cannot compile a complex value.
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The variables and captures `value` refers to, read as `ngx_http_script_compile` reads them.
    public static func references(in value: String) -> Result<[Reference], SyntaxError> {
        let b = Array(value.utf8)
        var out: [Reference] = []
        var i = 0
        func isNameByte(_ c: UInt8) -> Bool {
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
        }
        while i < b.count {
            guard b[i] == 0x24 else { i += 1; continue }  // "$"
            i += 1
            guard i < b.count else { return .failure(SyntaxError(message: "invalid variable name: `$` at the end of \"\(value)\"")) }
            if b[i] >= 0x31 && b[i] <= 0x39 { out.append(.capture(Int(b[i] - 0x30))); i += 1; continue }
            var bracket = false
            if b[i] == 0x7B { bracket = true; i += 1 }  // "{"
            let start = i
            while i < b.count, isNameByte(b[i]) { i += 1 }
            let name = String(decoding: b[start..<i], as: UTF8.self)
            if bracket {
                guard i < b.count, b[i] == 0x7D else {
                    return .failure(SyntaxError(message: "the closing bracket in \"\(name)\" variable is missing in \"\(value)\""))
                }
                i += 1
            }
            guard !name.isEmpty else { return .failure(SyntaxError(message: "invalid variable name in \"\(value)\"")) }
            out.append(.variable(name))
        }
        return .success(out)
    }

    /// The named capture groups of a regular expression (`(?<name>`, `(?P<name>`, `(?'name'`): nginx makes each a variable.
    public static func namedCaptures(in pattern: String) -> [String] {
        let b = Array(pattern.utf8)
        var out: [String] = []
        var i = 0
        while i + 2 < b.count {
            if b[i] == 0x5C { i += 2; continue }  // escaped character
            guard b[i] == 0x28, b[i + 1] == 0x3F else { i += 1; continue }  // "(?"
            var j = i + 2
            if b[j] == 0x50 { j += 1 }  // "P"
            guard j < b.count, b[j] == 0x3C || b[j] == 0x27 else { i += 1; continue }  // "<" or "'"
            j += 1
            let start = j
            while j < b.count, isValidName(String(decoding: [b[j]], as: UTF8.self)) { j += 1 }
            if j > start { out.append(String(decoding: b[start..<j], as: UTF8.self)) }
            i = j
        }
        return out
    }
}
