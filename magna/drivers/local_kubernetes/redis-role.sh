#!/bin/sh
# Start this container's part of a replicated Redis: a master, a sentinel or a replica.
#
# Shipped in the magna/redis image as /usr/local/bin/redis-role (redis_image.py) for the
# redis example of docs/examples/redis. The role comes from the environment:
#   MASTER=true     the first master, on $REDIS_PORT (6379)
#   SENTINEL=true   a sentinel on 26379 watching the master called "mymaster"
#   neither         a replica of the master the sentinels name
# There is no cluster DNS: the sentinels are reached through the service redis-sentinel, whose
# address kubelet puts in REDIS_SENTINEL_SERVICE_HOST and _PORT. POD_IP (the downward API's
# status.podIP) is the address a sentinel announces for a master running beside it.
# Waits are bounded by $ROLE_WAIT seconds; then the container exits and kubelet restarts it.

PORT="${REDIS_PORT:-6379}"
SENTINEL_PORT="${SENTINEL_PORT:-26379}"
MASTER_NAME=mymaster
WAIT="${ROLE_WAIT:-120}"

say() { echo "redis-role: $*" >&2; }

# "ip port" of the master the sentinel service knows, or nothing.
sentinels_master() {
    [ -n "${REDIS_SENTINEL_SERVICE_HOST:-}" ] || return 0
    redis-cli -h "$REDIS_SENTINEL_SERVICE_HOST" -p "${REDIS_SENTINEL_SERVICE_PORT:-26379}" \
        --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null \
        | grep -v '^$' | tr '\n' ' ' | grep -E '^[0-9a-f.:]+ [0-9]+ $'
}

# "POD_IP port" when a master answers beside this container (the master pod's sentinel).
master_beside() {
    [ -n "${POD_IP:-}" ] || return 0
    redis-cli -h 127.0.0.1 -p "$PORT" --raw ROLE 2>/dev/null | head -n 1 | grep -qx master \
        && echo "$POD_IP $PORT"
}

# Print the first non-empty answer of "$@" within $WAIT seconds, or fail.
await() {
    waited=0
    while [ "$waited" -lt "$WAIT" ]; do
        for finder in "$@"; do
            found="$($finder)"
            if [ -n "$found" ]; then echo "$found"; return 0; fi
        done
        sleep 2
        waited=$((waited + 2))
    done
    return 1
}

run_master() {
    say "master on port $PORT"
    exec redis-server --port "$PORT" --protected-mode no --dir /data
}

run_sentinel() {
    # Ask the other sentinels first: after a failover the master is no longer the first one.
    master="$(await sentinels_master master_beside)" \
        || { say "no sentinel names a master and none runs beside me"; exit 1; }
    set -- $master
    say "sentinel on port $SENTINEL_PORT watching $1:$2"
    cat > /data/sentinel.conf <<EOF
port $SENTINEL_PORT
protected-mode no
dir /data
sentinel monitor $MASTER_NAME $1 $2 2
sentinel down-after-milliseconds $MASTER_NAME 60000
sentinel failover-timeout $MASTER_NAME 180000
sentinel parallel-syncs $MASTER_NAME 1
EOF
    exec redis-server /data/sentinel.conf --sentinel
}

run_replica() {
    master="$(await sentinels_master)" || { say "no sentinel names a master"; exit 1; }
    set -- $master
    say "replica on port $PORT of $1:$2"
    exec redis-server --port "$PORT" --protected-mode no --dir /data --replicaof "$1" "$2"
}

if [ "${MASTER:-}" = "true" ]; then
    run_master
elif [ "${SENTINEL:-}" = "true" ]; then
    run_sentinel
else
    run_replica
fi
