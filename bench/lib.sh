# Shared by the bench scripts (sourced): a free loopback port, and a `tapedeck serve` of
# the release build recording into a work folder.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_recorder BIN WORK TEMPLATE_TOML: writes WORK/rec.toml (data in WORK/rec) with the
# given template lines, starts `BIN serve` on it, waits for its RTMP port. Sets $port
# (RTMP), $server (the pid) and $rec_config.
start_recorder() {
  local bin="$1" work="$2" template="$3"
  port=$(free_port)
  local control; control=$(free_port)
  rec_config="$work/rec.toml"
  printf 'data_dir = "%s/rec"\n[ingest]\nrtmp_listen = "127.0.0.1:%s"\n[control]\nlisten = "127.0.0.1:%s"\n%s\n' \
    "$work" "$port" "$control" "$template" > "$rec_config"
  TAPEDECK_LOG=warn "$bin" serve --config "$rec_config" 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
}
