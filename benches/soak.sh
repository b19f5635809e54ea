#!/usr/bin/env bash
# Soak: MINUTES of mixed load against one `mq broker`, its memory sampled every 10 s.
#
# The load (benches/soak_load.py, Python paho-mqtt) churns connections (clean and
# persistent sessions, MQTT 3.1.1 and 5, DISCONNECT or a dropped socket so Wills fire),
# publishes QoS 0/1/2 to wildcard subscribers, and rewrites retained messages on a
# rotating set of topics; `mq bench fanout` loops beside it for steady throughput.
# Every SAMPLE seconds the broker's VmRSS, thread count and open files go into
# OUT/soak.csv; at the end benches/soak_plot.py draws OUT/soak.png and prints the summary.
# Loopback only; every part of the load ends at the deadline.
#
#   benches/soak.sh [MINUTES] [OUT]        (defaults: 30, soak-out)
#   MQ=target/release/mq  BROKER_ARGS="--persistence off"  SAMPLE=10
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
minutes="${1:-30}"
out="${2:-soak-out}"
mq="${MQ:-target/release/mq}"
sample="${SAMPLE:-10}"
read -r -a broker_args <<<"${BROKER_ARGS:---persistence off}"
mkdir -p "$out"
dir="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}" "${broker_pid:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT

# shellcheck source=benches/start_broker.sh
. benches/start_broker.sh
start_broker "$mq" "$dir" "$out/broker.err" --sys-interval 10 "${broker_args[@]}"
echo "soak: mq broker on port $port (pid $broker_pid), ${minutes} min, sampling every ${sample} s into $out/soak.csv"

seconds=$((minutes * 60))
end=$(($(date +%s) + seconds))

python3 benches/soak_load.py --port "$port" --seconds "$seconds" >"$out/load.log" 2>&1 &
pids+=($!)

# Steady QoS 1 fan-out beside the churn: one publisher, 4 subscribers, 500 msg/s, in
# rounds of at most a minute until the deadline.
(
    while [ "$(date +%s)" -lt "$end" ]; do
        left=$((end - $(date +%s)))
        [ "$left" -gt 60 ] && left=60
        [ "$left" -le 2 ] && break
        "$mq" bench fanout -p "$port" -c 4 -q 1 -r 500 -n 0 --duration "${left}s" \
            --topic soak/fanout/%i --json >>"$out/bench.jsonl" 2>/dev/null || true
    done
) &
pids+=($!)

echo "elapsed_s,rss_kb,threads,open_files" >"$out/soak.csv"
started=$(date +%s)
while [ "$(date +%s)" -lt "$end" ] && kill -0 "$broker_pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$broker_pid/status")
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$broker_pid/status")
    files=$(find "/proc/$broker_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    echo "$(($(date +%s) - started)),$rss,$threads,$files" >>"$out/soak.csv"
    sleep "$sample"
done
kill -0 "$broker_pid" 2>/dev/null || { echo "soak: the broker died; see $out/broker.err" >&2; exit 1; }
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
tail -n 3 "$out/load.log"
python3 benches/soak_plot.py "$out/soak.csv" "$out/soak.png"
