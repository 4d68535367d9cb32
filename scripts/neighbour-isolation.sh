#!/usr/bin/env bash
# A light client's latency while two neighbours send requests that block
# 5 ms each (synthetic service, --wait), against reactor-pool and mio:
# reactor-pool hands the blocking requests to its workers, so the light
# client's p99 should stay under 1 ms; mio's one loop makes it wait behind
# them. Server on CPU 1, both load generators on CPU 0; rounds interleaved.
#   scripts/neighbour-isolation.sh        # 3 rounds
#   scripts/neighbour-isolation.sh 5      # 5 rounds
# Every load is bounded; each server is stopped (SIGINT, by its pid) before
# the next starts.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin sockbench
bin=target/release/sockbench
rounds=${1:-3}
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; true' EXIT
for round in $(seq "$rounds"); do
    for model in reactor-pool mio; do
        coproc SERVE { exec "$bin" serve --model "$model" --service synthetic --cpus 1; }
        server=$SERVE_PID
        # The readiness line names the address the server bound (port 0).
        read -r ready <&"${SERVE[0]}"
        addr=$(sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' <<<"$ready")
        "$bin" load --target "$addr" --service synthetic --wait 5ms --connections 2 \
            --warmup 0s --duration 4s --timeout 5s --cpus 0 --quiet &
        neighbours=$!
        echo "== round $round: $model, light client (1 connection, no work) beside two 5 ms neighbours"
        "$bin" load --target "$addr" --service synthetic --connections 1 \
            --warmup 1s --duration 2s --cpus 0 | grep -E '^ +(50|99|99\.9)% |Requests/sec'
        wait "$neighbours"
        kill -INT "$server"
        wait "$server" || true
        server=""
    done
done
