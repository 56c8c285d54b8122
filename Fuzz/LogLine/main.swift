// libFuzzer target: the access-log line parser, in the combined, the reference `timed` and a JSON format.
import AccessLog
import Foundation
import FuzzDriver

nonisolated(unsafe) let formats: [LogFormat] = {
    var out = [LogFormat.combined]
    let timed = #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "#
        + #""$http_user_agent" $request_time $upstream_response_time $upstream_addr $request_id"#
    if let format = try? LogFormat(name: "timed", template: timed) { out.append(format) }
    let json = #"{"time":"$time_iso8601","request":"$request","status":$status,"rt":$request_time,"up":"$upstream_addr"}"#
    if let format = try? LogFormat(name: "json", template: json, escape: .json) { out.append(format) }
    return out
}()
nonisolated(unsafe) let parsers = formats.map { LogLineParser(format: $0) }

/// One input: the first byte picks the format, the rest is a line; every accessor of a parsed line must be
/// safe to call and stay within the line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLogLine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let parser = parsers[Int(data[0]) % parsers.count]
    let line = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    guard parser.parse(line) else { return 0 }
    if let path = parser.rawPath() {
        let unescaped = parser.unescape(path)
        precondition(unescaped.count <= path.count * 4 + 16, "unescaping grew the path unreasonably")
    }
    for variable in LogVariable.allCases {
        if let value = parser.value(variable) { precondition(value.count <= size, "a value longer than the line") }
        _ = parser.raw(variable)
    }
    return 0
}

fuzzMain(fuzzLogLine)
