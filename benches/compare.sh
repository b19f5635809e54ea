#!/usr/bin/env bash
# The same `mq bench` scenarios against Mosquitto and `mq broker`, side by side.
#
# Each round runs every scenario against both brokers, alternating A B A B, each time on a
# freshly started broker (so a scenario never sees another's leftovers and every start is
# one more sample of the time to listening). The table gives the median of the rounds per
# broker and the ratio mq / Mosquitto.
#
#   benches/compare.sh                     # 3 rounds, full sizes
#   ROUNDS=5 benches/compare.sh            # more rounds
#   SCALE=0.1 ROUNDS=1 benches/compare.sh  # a quick try: a tenth of every message count
#   SCENARIOS="fanin-q1 retained-q1" benches/compare.sh   # only these scenarios
#
# Environment: ROUNDS (3), SCALE (1), MOSQUITTO (/usr/sbin/mosquitto), MQ (target/release/mq,
# built with `cargo build --release` unless NO_BUILD=1), BENCH (the `mq` that runs the
# load, default $MQ), OUT (target/compare), CONNS (10000), SCENARIOS (all).
# Needs python3 for the medians. Every bench run is bounded by its own --duration and by
# `timeout`; brokers get SIGTERM, then SIGKILL.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-1}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
MQ=${MQ:-target/release/mq}
# The load generator; the same binary by default, another to compare two mq brokers.
BENCH=${BENCH:-$MQ}
OUT=${OUT:-target/compare}
CONNS=${CONNS:-10000}
# The longest one bench run may take, whatever happens.
RUN_LIMIT=${RUN_LIMIT:-300}

command -v python3 >/dev/null || { echo "compare.sh: python3 is needed for the medians" >&2; exit 2; }
[ -x "$MOSQUITTO" ] || { echo "compare.sh: no Mosquitto at $MOSQUITTO" >&2; exit 2; }
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet
fi
[ -x "$MQ" ] || { echo "compare.sh: no mq binary at $MQ" >&2; exit 2; }
[ -x "$BENCH" ] || { echo "compare.sh: no mq binary at $BENCH" >&2; exit 2; }
# Builds before persistence have no --persistence flag and keep nothing anyway.
MQ_MEMORY_ONLY=()
if "$MQ" broker --help | grep -q -- '--persistence'; then
    MQ_MEMORY_ONLY=(--persistence off)
fi

# 10,000 connections need 10,000 descriptors on each side, broker and bench.
hard=$(ulimit -Hn)
want=$((CONNS + 1000))
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
    echo "compare.sh: ulimit -Hn is $hard, below the $want that $CONNS connections need" >&2
    exit 2
fi
ulimit -n "$want"

mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
: >"$RESULTS"
WORK=$(mktemp -d)
# shellcheck source=benches/comparison.sh
. benches/comparison.sh
cleanup() {
    stop_broker
    rm -rf "$WORK"
}
trap cleanup EXIT

scaled() { python3 -c "import sys; print(max(1, int(round($1 * $SCALE))))"; }

now_ns() { date +%s%N; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start_broker NAME PORT: starts it, waits until it accepts connections, records the time.
start_broker() {
    local name=$1 port=$2 began
    began=$(now_ns)
    case $name in
    mosquitto)
        mosquitto_conf "$port" >"$WORK/mosquitto.conf"
        "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/broker.log" 2>&1 &
        ;;
    mq)
        # Mosquitto keeps no store by default (persistence false), so mq runs memory-only
        # too.
        "$MQ" broker -p "$port" --bind 127.0.0.1 "${MQ_COMPARISON_LIMITS[@]}" \
            "${MQ_MEMORY_ONLY[@]}" >"$WORK/broker.log" 2>&1 &
        ;;
    esac
    BROKER_PID=$!
    local deadline=$((began + 10000000000))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if [ "$(now_ns)" -gt "$deadline" ] || ! kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "compare.sh: $name did not start listening on $port:" >&2
            cat "$WORK/broker.log" >&2
            exit 1
        fi
        sleep 0.001
    done
    STARTUP_MS=$(python3 -c "print(($(now_ns) - $began) / 1e6)")
}

record() { # round broker scenario metric value
    printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"
}

# json FILE EXPR: a value from a bench report.
json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

bench() { # port json-file args...
    local port=$1 out=$2
    shift 2
    timeout "$RUN_LIMIT" "$BENCH" bench -h 127.0.0.1 -p "$port" --json "$@" >"$out" 2>"$out.err"
}

FANIN_N=$(scaled 25000)
FANOUT16_N=$(scaled 10000)
FANOUT256_N=$(scaled 1000)
LATENCY_N=$(scaled 10000)
RETAINED_N=$(scaled 100000)
CONN_N=$(scaled "$CONNS")

# One scenario against one broker; records its figures.
scenario() { # round broker name
    local round=$1 broker=$2 name=$3 port out
    port=$(free_port)
    start_broker "$broker" "$port"
    record "$round" "$broker" startup ms "$STARTUP_MS"
    out="$WORK/$name.json"
    case $name in
    fanin-q0 | fanin-q1 | fanin-q2)
        bench "$port" "$out" fanin -c 8 -n "$FANIN_N" -q "${name#fanin-q}" -s 64 --duration 120s --drain 120s
        record "$round" "$broker" "$name" msg/s "$(json "$out" "r['receive']['rate_per_s']")"
        ;;
    fanout16-q0 | fanout16-q1 | fanout256-q0 | fanout256-q1)
        local subs=${name%-q*} n
        subs=${subs#fanout}
        n=$FANOUT16_N
        [ "$subs" = 256 ] && n=$FANOUT256_N
        bench "$port" "$out" fanout -c "$subs" -n "$n" -q "${name#*-q}" -s 64 --duration 120s --drain 120s
        record "$round" "$broker" "$name" deliveries/s "$(json "$out" "r['receive']['rate_per_s']")"
        ;;
    latency-q1)
        bench "$port" "$out" latency -c 1 -n "$LATENCY_N" -q 1 -s 64 --rate 1000 --duration 60s --drain 60s
        record "$round" "$broker" "$name" p50_us "$(json "$out" "r['latency_us']['p50']")"
        record "$round" "$broker" "$name" p99_us "$(json "$out" "r['latency_us']['p99']")"
        ;;
    retained-q1)
        bench "$port" "$out" retained -n "$RETAINED_N" -q 1 -s 64 --filter '#' --keep-retained --duration 120s
        record "$round" "$broker" "$name" seconds "$(json "$out" "r['retained']['elapsed_s']")"
        record "$round" "$broker" "$name" delivered "$(json "$out" "r['retained']['delivered']")"
        ;;
    conn-idle)
        local base idle_rss
        base=$(rss_kb "$BROKER_PID")
        timeout "$RUN_LIMIT" "$BENCH" bench conn -h 127.0.0.1 -p "$port" --json -c "$CONN_N" \
            --filter 'bench/conn/%i' -q 1 --idle 5s --connect-timeout 120s \
            >"$out" 2>"$out.err" &
        local bench_pid=$!
        # The bench says "idle" on stderr once every connection is up and subscribed.
        for _ in $(seq 1200); do
            grep -q '^mq bench: idle' "$out.err" 2>/dev/null && break
            kill -0 "$bench_pid" 2>/dev/null || break
            sleep 0.1
        done
        sleep 1
        idle_rss=$(rss_kb "$BROKER_PID")
        wait "$bench_pid" || { echo "compare.sh: conn failed:" >&2; cat "$out.err" >&2; exit 1; }
        local connected
        connected=$(json "$out" "r['connect']['connected']")
        record "$round" "$broker" "$name" conn/s "$(json "$out" "r['connect']['rate_per_s']")"
        record "$round" "$broker" "$name" connected "$connected"
        record "$round" "$broker" "$name" rss_kb_per_conn \
            "$(python3 -c "print(($idle_rss - $base) / max(1, $connected))")"
        record "$round" "$broker" "$name" rss_base_kb "$base"
        ;;
    esac
    case $name in
    *-q1 | *-q2) # zero lost or duplicated messages is the target at QoS 1 and 2
        record "$round" "$broker" "$name" lost "$(json "$out" "r['receive']['lost']")"
        record "$round" "$broker" "$name" duplicates "$(json "$out" "r['receive']['duplicates']")"
        ;;
    esac
    cp "$out" "$OUT/r$round-$broker-$name.json"
    stop_broker
}

ALL_SCENARIOS="fanin-q0 fanin-q1 fanin-q2 fanout16-q0 fanout16-q1 fanout256-q0 fanout256-q1
    latency-q1 conn-idle retained-q1"
read -r -a SCENARIOS <<<"$(echo ${SCENARIOS:-$ALL_SCENARIOS})"
for name in "${SCENARIOS[@]}"; do
    case " $(echo $ALL_SCENARIOS) " in
    *" $name "*) ;;
    *) echo "compare.sh: no scenario $name (there are: $(echo $ALL_SCENARIOS))" >&2; exit 2 ;;
    esac
done

{
    echo "# compare.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "# mosquitto: $("$MOSQUITTO" -h 2>/dev/null | head -1); mq: $("$MQ" --version)"
    echo "# rounds $ROUNDS, scale $SCALE; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/header.txt"

for round in $(seq "$ROUNDS"); do
    for name in "${SCENARIOS[@]}"; do
        for broker in mosquitto mq; do
            echo "round $round: $name on $broker (load $(cut -d' ' -f1 /proc/loadavg))" >&2
            scenario "$round" "$broker" "$name"
        done
    done
done
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/header.txt"

python3 - "$RESULTS" <<'EOF' | tee "$OUT/table.md"
import collections, statistics, sys
rows = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    rnd, broker, scenario, metric, value = line.rstrip("\n").split("\t")
    key = (scenario, metric)
    if key not in order:
        order.append(key)
    rows[key + (broker,)].append(float(value))
higher_is_better = {"msg/s", "deliveries/s", "conn/s", "delivered", "connected"}
print("| scenario | metric | Mosquitto 2.0.11 | mq | mq / Mosquitto | better is |")
print("|---|---|---:|---:|---:|---|")
for scenario, metric in order:
    m = rows.get((scenario, metric, "mosquitto"), [])
    q = rows.get((scenario, metric, "mq"), [])
    if not m or not q:
        continue
    mm, qm = statistics.median(m), statistics.median(q)
    if metric in ("lost", "duplicates"):
        print(f"| {scenario} | {metric} (max of rounds) | {max(m):.0f} | {max(q):.0f} | | 0 |")
        continue
    ratio = f"{qm / mm:.2f}" if mm else "n/a"
    fmt = (lambda v: f"{v:,.0f}") if max(mm, qm) >= 100 else (lambda v: f"{v:.2f}")
    better = "higher" if metric in higher_is_better else "lower"
    print(f"| {scenario} | {metric} | {fmt(mm)} | {fmt(qm)} | {ratio} | {better} |")
EOF
