/// A small routing in the pattern: `a` and `b` share group1 (10%), `c` is alone in group2 (5%) (the autopilot's and the metrics' unit tests).
public let threeEndpointRouting = """
map $uri $target_path {
    ~^/v2/a$ "/a";
    ~^/v2/b$ "/b";
    ~^/v2/c$ "/c";
}
split_clients "${request_id}" $group1_routing {
    10% "new_service";
    * "current_service";
}
split_clients "${request_id}" $group2_routing {
    5% "new_service";
    * "current_service";
}
map $uri $split_group {
    ~^/v2/a$ "$group1_routing";
    ~^/v2/b$ "$group1_routing";
    ~^/v2/c$ "$group2_routing";
}

"""
