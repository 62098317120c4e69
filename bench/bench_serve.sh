#!/bin/bash
# W6 server: an HTTP server in a process of its own under wrk (1,000
# keep-alive connections for 3 s, GET /rates?base=USD, through the peers'
# bench/peers/w6_http/wrk_check.sh), measured as bench_echo measures the
# W5 servers: requests/s from wrk, the server's CPU time during
# the run (utime + stime from /proc/PID/stat, all threads) per request, and
# its peak RSS (VmHWM).  Prints "RESULT <metric> <value> <unit>".
# Usage: bench/bench_serve.sh PORT server-command [args...]
#        (the command must listen on 127.0.0.1:PORT)
set -u
port=${1:?usage: bench_serve.sh PORT command...}
shift
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed" >&2; exit 1; }

"$@" >/dev/null 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
# Wait (up to 10 s) until the port accepts.
i=0
until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
        echo "the server did not listen on port $port" >&2
        exit 1
    fi
    sleep 0.1
done 2>/dev/null

# utime + stime in clock ticks: fields 14 and 15 of /proc/PID/stat (the
# command name, field 2, may hold spaces: cut after its closing paren).
ticks() {
    sed 's/.*) //' /proc/$pid/stat | awk '{print $12 + $13}'
}
hz=$(getconf CLK_TCK)
t0=$(ticks)
out=$(bash "$here/peers/w6_http/wrk_check.sh" "$port") || { echo "$out" >&2; exit 1; }
t1=$(ticks)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
rps=$(echo "$out" | awk '$1 == "RESULT" && $2 == "req_per_s" {print $3}')
echo "$out" | grep '^INFO'
echo "$out" | grep '^RESULT'
awk -v t0="$t0" -v t1="$t1" -v hz="$hz" -v rps="$rps" 'BEGIN {
    cpu = (t1 - t0) / hz
    printf "RESULT server_cpu_s %.3f s\n", cpu
    if (rps > 0)
        printf "RESULT server_cpu_per_req_us %.2f us\n", cpu / (rps * 3) * 1e6
}'
echo "RESULT server_peak_rss_kib $hwm KiB"
