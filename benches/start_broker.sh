# Sourced by the bench scripts: starts `mq broker -p 0 ARGS...` in the background, its
# stdout in DIR/broker.out and its stderr in ERR, and waits (up to 10 s, less if it
# exits) for the port it reports. Sets `broker_pid` and `port`; the caller's EXIT trap
# stops the broker.
#
#   start_broker MQ DIR ERR ARGS...
start_broker() {
    local mq=$1 dir=$2 err=$3
    shift 3
    "$mq" broker -p 0 "$@" >"$dir/broker.out" 2>"$err" &
    broker_pid=$!
    port=""
    for _ in $(seq 200); do
        port="$(sed -n 's#^mq broker listening on mqtt://127.0.0.1:\([0-9]*\)$#\1#p' "$dir/broker.out" | head -n 1)"
        [ -n "$port" ] && return 0
        kill -0 "$broker_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "the broker did not start; its errors are in $err" >&2
    return 1
}
