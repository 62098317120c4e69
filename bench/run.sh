#!/bin/sh
# Runs concur's benchmarks and, right after each, the same workload written
# for its peers (Go, Python; bench/peers/), sequentially, in one go: the
# machine is noisy, so compare figures of the same run.  Each program prints
# "RESULT <metric> <value> <unit>"; this script prints them side by side.
# Peers whose toolchain is missing are skipped with a note.
# The whole output is also saved in <build-dir>/bench-results.txt, and
# bench/report.py turns it into docs/benchmarks.md (not for an ONLY= run,
# whose page would lack the other workloads).
# Usage: bench/run.sh <build-dir>      (ONLY=REGEX: only workloads matching it,
#                                       e.g. ONLY='w5|w6')
set -u
build=$(cd "${1:?usage: bench/run.sh <build-dir>}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench
peers=$build/bench-peers
mkdir -p "$peers"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
results=$build/bench-results.txt

# Everything from here to the closing brace below goes to the terminal and
# to $results.
{
# Build the Go peers (no network: GOPATH mode, cache in the build tree).
if command -v go >/dev/null 2>&1; then
    export GOCACHE="$peers/gocache" GOPATH="$peers/gopath" GO111MODULE=off GOFLAGS=
    for p in go_queue go_pingpong go_select go_pool go_spawn go_spawn_exec; do
        go build -o "$peers/$p" "$here/peers/$p/main.go" || echo "note: $p did not build"
    done
    go build -o "$peers/w5_go" "$here/peers/w5_echo/go/main.go" || echo "note: w5_go did not build"
fi
if pkg-config --exists glib-2.0 2>/dev/null; then
    cc -O2 -o "$peers/glib_pool" "$here/peers/glib_pool.c" \
        $(pkg-config --cflags --libs glib-2.0) || echo "note: glib_pool did not build"
fi
# The W5 (TCP echo) peers' servers in C on libuv, bench/peers/w5_echo/.
if pkg-config --exists libuv 2>/dev/null; then
    for p in libuv libuv_reuse; do
        cc -O2 -Wall -o "$peers/w5_$p" "$here/peers/w5_echo/$p.c" \
            $(pkg-config --cflags --libs libuv) || echo "note: w5_$p did not build"
    done
fi

# The MPI peers in C, built with OpenMPI's compiler wrapper.
if command -v mpicc >/dev/null 2>&1; then
    mpicc -O2 -Wall -o "$peers/mpi_pingpong" "$here/peers/mpi_pingpong.c" ||
        echo "note: mpi_pingpong did not build"
fi

# row <workload> <implementation> <command...>: run it, print its RESULT lines.
row() {
    w=$1
    impl=$2
    shift 2
    if [ -n "${ONLY:-}" ] && ! printf '%s\n' "$w" | grep -Eq "$ONLY"; then
        return
    fi
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
        printf '%-10s %-34s (skipped: %s not available)\n' "$w" "$impl" "$1"
        return
    fi
    out=$("$@" 2>&1) || { printf '%-10s %-34s FAILED\n%s\n' "$w" "$impl" "$out"; return; }
    rows=$(printf '%s\n' "$out" | awk -v w="$w" -v impl="$impl" '
        $1 == "RESULT" { printf "%-10s %-34s %-40s %14.6g %s\n", w, impl, $2, $3, $4 }')
    # A program that succeeds without a RESULT line is broken too: show it.
    if [ -z "$rows" ]; then
        printf '%-10s %-34s FAILED (no RESULT line)\n%s\n' "$w" "$impl" "$out"
    else
        printf '%s\n' "$rows"
    fi
}

# echo_peer <implementation> <server command...>: W5 for a peer's echo
# server, through bench_echo's harness (same client, same measurements).
echo_peer() {
    impl=$1
    shift
    if [ -n "${ONLY:-}" ] && ! printf 'w5_echo\n' | grep -Eq "$ONLY"; then
        return
    fi
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
        printf '%-10s %-34s (skipped: %s not available)\n' w5_echo "$impl" "$1"
        return
    fi
    row w5_echo "$impl" "$bin/bench_echo" measure -- "$@"
}

echo "concur benchmarks beside their peers ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs)"
model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
load=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null)
echo "machine: $(uname -r), ${model:-$(uname -m)}, load ${load:-unknown}"
printf '%-10s %-34s %-40s %14s %s\n' workload implementation metric value unit

row lock      "concur cc_lock / pthread_mutex"  "$bin/bench_lock"
row lock      "python threading.Lock (W8c)"     $PY "$here/peers/py_lock.py"

row queue     "concur cc_queue 2P2C maxsize 1024" "$bin/bench_queue" 1000000 1024
row queue     "go buffered chan 2P2C cap 1024"  "$peers/go_queue" 1000000 1024
row queue     "python queue.Queue 2P2C (200k)"  $PY "$here/peers/py_queue.py" 200000 1024

row pingpong  "concur cc_queue, 2 threads"      "$bin/bench_pingpong" 200000
row pingpong  "go unbuffered chan, 2 goroutines" "$peers/go_pingpong" 200000
row pingpong  "python queue.Queue, 2 threads (50k)" $PY "$here/peers/py_pingpong.py" 50000

row select    "concur cc_select, 2 threads"     "$bin/bench_select" threads 200000
row select    "concur cc_select, 2 tasks"       "$bin/bench_select" tasks 200000
row select    "concur cc_select, always ready"  "$bin/bench_select" ready 1000000
row select    "go select, 2 goroutines / ready" "$peers/go_select" all

row throttle  "concur cc_throttle 4 threads"    "$bin/bench_throttle" 10000 2

row aio       "concur coroutines"               "$bin/bench_aio" switch
row aio       "concur coroutines"               "$bin/bench_aio" yield
row w1_spawn  "concur 100k tasks sleep 10 ms"   "$bin/bench_aio" spawn 100000
row w1_spawn  "go 100k goroutines"              "$peers/go_spawn" 100000
row w1_spawn  "python asyncio 100k tasks"       $PY "$here/peers/py_spawn.py" 100000
row w1_spawn  "python uvloop 100k tasks"        $PY "$here/peers/py_spawn.py" 100000 --uvloop
row w1_spawn  "node 100k promises"              node "$here/peers/node_spawn.js" 100000
row w1_spawn  "concur 1M tasks sleep 10 ms"     "$bin/bench_aio" spawn 1000000
row w2_coro   "concur 2 tasks, cc_queue(1)"     "$bin/bench_aio" pingpong 200000
row w2_coro   "go unbuffered chan"              "$peers/go_pingpong" 200000
row w2_coro   "python asyncio.Queue(1)"         $PY "$here/peers/py_asyncio_pingpong.py" 100000
row w2_coro   "python uvloop asyncio.Queue(1)"  $PY "$here/peers/py_asyncio_pingpong.py" 100000 --uvloop
row timers    "concur 10k sleeps of 0-100 ms"   "$bin/bench_aio" timers 10000

row mixed_q   "concur one cc_queue, 1P1C"         "$bin/bench_mixed" queue 1000000 1024
row mixed_q   "python queue.Queue / asyncio.Queue (200k)" $PY "$here/peers/py_mixed.py" queue 200000 1024
row mixed_aw  "concur 10k tasks await 1 ms pool jobs" "$bin/bench_mixed" awaiters 10000 1
row mixed_aw  "python asyncio.to_thread x 10k"  $PY "$here/peers/py_mixed.py" awaiters 10000 1

row pool      "concur thread pool, 2 workers"   "$bin/bench_pool" 200000
row pool      "go 2 workers, chans buffered N"  "$peers/go_pool" 200000
row pool      "go 2 workers, chans unbuffered"  "$peers/go_pool" 200000 0
row pool      "glib GThreadPool, 2 threads"     "$peers/glib_pool" 200000
row pool      "python ThreadPoolExecutor(2)"    $PY "$here/peers/py_pool.py" 200000

row procpool  "concur process pool, 2 workers"  "$bin/bench_procpool" all 20000 5
row procpool  "python ProcessPoolExecutor / Pool(2)" $PY "$here/peers/py_procpool.py" all 20000 3

row pipe      "concur Pipe / raw socketpair"    "$bin/bench_pipe"
row mpqueue   "concur cc_mpqueue, 64 B messages" "$bin/bench_mpqueue" 1000000 64
row mpqueue   "python multiprocessing.Queue (200k)" $PY "$here/peers/py_mpqueue.py" 200000 64
row pipe      "python multiprocessing.Pipe (200k)" $PY "$here/peers/py_pipe.py" 200000

# W7: /bin/true started and reaped 1,000 times (raw posix_spawn + waitpid is
# timed inside bench_subprocess, interleaved with concur), the same from 8
# threads at once, and ten `sleep 1` children side by side.
row w7_spawn  "concur run vs raw posix_spawn"   "$bin/bench_subprocess" spawn 1000 5
row w7_spawn  "go os/exec Cmd.Run"              "$peers/go_spawn_exec" spawn 1000 5
row w7_spawn  "python subprocess.run"           $PY "$here/peers/py_subprocess.py" spawn 1000 5
row w7_threads "concur run, 8 threads (raw too)" "$bin/bench_subprocess" threads 1000 8 5
row w7_threads "go os/exec, 8 goroutines"       "$peers/go_spawn_exec" threads 1000 8 5
row w7_threads "python subprocess.run, 8 threads" $PY "$here/peers/py_subprocess.py" threads 1000 8 5
row w7_sleep10 "concur 10 x cc_popen sleep 1"   "$bin/bench_subprocess" sleep10 3
row w7_sleep10 "go 10 x exec sleep 1"           "$peers/go_spawn_exec" sleep10 3
row w7_sleep10 "python 10 x Popen sleep 1"      $PY "$here/peers/py_subprocess.py" sleep10 3

# W5: a TCP echo server in a process of its own, 100 connections x 2,000
# round trips of 64 bytes from the peers' load client (3 runs, medians).
row w5_echo   "concur tasks on one loop"        "$bin/bench_echo" tasks
row w5_echo   "concur a thread per connection"  "$bin/bench_echo" threads
echo_peer     "go net, goroutine per conn"      "$peers/w5_go"
echo_peer     "c libuv (uvbook shape)"          "$peers/w5_libuv"
echo_peer     "c libuv reuse + try_write"       "$peers/w5_libuv_reuse"
echo_peer     "python uvloop streams"           $PY "$here/peers/w5_echo/py_uvloop.py"
echo_peer     "python asyncio streams"          $PY "$here/peers/w5_echo/py_asyncio.py"
echo_peer     "node net, sock.pipe(sock)"       node "$here/peers/w5_echo/node.js"

# The MPI workloads (peers of concur's MPI executor): 3 ranks, rank 0
# submitting to 2 worker ranks, over shared memory on this host and over TCP
# between the two "hosts" of scripts/mpi_netns.sh (network namespaces; on
# the loopback where namespaces cannot be made, and the rows say so).
mpirun_sh=$here/../scripts/mpirun.sh
netns_sh=$here/../scripts/mpi_netns.sh
if ip netns add ccmpiprobe$$ 2>/dev/null; then
    ip netns del ccmpiprobe$$
    tcp="tcp, 2 netns hosts"
else
    tcp="tcp, loopback (no netns)"
    CC_MPI_NETNS=off
    export CC_MPI_NETNS
fi
shm="--mca btl self,vader"
# mpi_row <workload> <implementation> <python module or -> <command...>: a
# row when mpirun (and the Python module, unless -) is there, else skipped.
mpi_row() {
    w=$1 impl=$2 mod=$3
    shift 3
    if [ -n "${ONLY:-}" ] && ! printf '%s\n' "$w" | grep -Eq "$ONLY"; then
        return
    fi
    if ! command -v mpirun >/dev/null 2>&1; then
        printf '%-10s %-34s (skipped: no mpirun)\n' "$w" "$impl"
    elif [ "$mod" != - ] && ! $PY -c "import $mod" 2>/dev/null; then
        printf '%-10s %-34s (skipped: python has no %s)\n' "$w" "$impl" "$mod"
    else
        row "$w" "$impl" "$@"
    fi
}
mpi4py="$PY -m mpi4py.futures $here/peers/py_mpi4py_futures.py"
# shellcheck disable=SC2086
{
mpi_row mpi_tiny  "mpi4py MPIPoolExecutor(2), shm" mpi4py "$mpirun_sh" -n 3 $shm $mpi4py tiny 20000 3
mpi_row mpi_tiny  "mpi4py MPIPoolExecutor(2), $tcp" mpi4py "$netns_sh" -n 3 $mpi4py tiny 20000 3
mpi_row mpi_tiny  "dask LocalCluster(2 processes)" distributed $PY "$here/peers/py_dask_tiny.py" 2000 3
mpi_row mpi_latency "mpi raw Send/Recv, shm"    - "$mpirun_sh" -n 2 $shm "$peers/mpi_pingpong" 20000 5
mpi_row mpi_latency "mpi raw Send/Recv, $tcp"   - "$netns_sh" -n 2 "$peers/mpi_pingpong" 5000 5
mpi_row mpi_latency "mpi4py MPIPoolExecutor(2), shm" mpi4py "$mpirun_sh" -n 3 $shm $mpi4py latency 0 3
mpi_row mpi_latency "mpi4py MPIPoolExecutor(2), $tcp" mpi4py "$netns_sh" -n 3 $mpi4py latency 0 3
mpi_row mpi_gcd   "mpi4py MPIPoolExecutor(2), shm" mpi4py "$mpirun_sh" -n 3 $shm $mpi4py gcd 0 3
mpi_row mpi_gcd   "mpi4py MPIPoolExecutor(2), $tcp" mpi4py "$netns_sh" -n 3 $mpi4py gcd 0 3
}
# concur's MPI executor (bench/bench_mpi.c) beside them, and its manager's
# CPU while nothing is submitted.
if [ -x "$bin/bench_mpi" ]; then
# shellcheck disable=SC2086
{
mpi_row mpi_tiny  "concur MPI executor(2), shm"    - "$mpirun_sh" -n 3 $shm "$bin/bench_mpi" tiny 20000 3
mpi_row mpi_tiny  "concur MPI executor(2), $tcp"   - "$netns_sh" -n 3 "$bin/bench_mpi" tiny 20000 3
mpi_row mpi_latency "concur MPI executor(2), shm"  - "$mpirun_sh" -n 3 $shm "$bin/bench_mpi" latency 20000 3
mpi_row mpi_latency "concur MPI executor(2), $tcp" - "$netns_sh" -n 3 "$bin/bench_mpi" latency 5000 3
mpi_row mpi_gcd   "concur MPI executor(2), shm"    - "$mpirun_sh" -n 3 $shm "$bin/bench_mpi" gcd 1 3
mpi_row mpi_gcd   "concur MPI executor(2), $tcp"   - "$netns_sh" -n 3 "$bin/bench_mpi" gcd 1 3
mpi_row mpi_idle  "concur MPI executor(2), idle 2 s" - "$mpirun_sh" -n 3 $shm "$bin/bench_mpi" idle
}
else
    printf '%-10s %-34s (skipped: no bench_mpi: CMake found no MPI)\n' mpi_tiny "concur MPI executor(2)"
fi

# W6 client: 2,000 GETs, at most 100 in flight, against one local server
# with 20 ms latency (rows added by the http layer's bench_http).
# Every client runs against the peers' Go net/http server, started fresh in
# a process of its own by bench_http (peer mode for the other clients), so
# the RESULT names line up: wall_s, req_per_s, client_cpu_s,
# client_cpu_us_per_req.  Goal: wall at least as good as Go and aiohttp,
# CPU per request within 1.1x of raw libcurl multi.
w6_server=$peers/w6_go_server
if command -v go >/dev/null 2>&1; then
    go build -o "$peers/w6_go_server" "$here/peers/w6_http/go_server/main.go" ||
        echo "note: w6_go_server did not build"
    go build -o "$peers/w6_go_client" "$here/peers/w6_http/go_client/main.go" ||
        echo "note: w6_go_client did not build"
fi
cc -O2 -o "$peers/w6_curl_multi" "$here/peers/w6_http/curl_multi.c" \
    $(pkg-config --cflags --libs libcurl) || echo "note: w6_curl_multi did not build"
w6_peer() {
    impl=$1
    shift
    if [ ! -x "$w6_server" ]; then
        printf '%-10s %-34s (skipped: no Go server)\n' w6_http "$impl"
        return
    fi
    row w6_http "$impl" "$bin/bench_http" peer -- "$w6_server" -- "$@"
}
if [ -x "$w6_server" ]; then
    row w6_http "concur 100 tasks, one loop"    "$bin/bench_http" tasks -- "$w6_server"
    row w6_http "concur 100 threads, sessions"  "$bin/bench_http" threads -- "$w6_server"
fi
w6_peer "c libcurl multi, 100 in flight"        "$peers/w6_curl_multi"
w6_peer "go net/http, 100 goroutines"           "$peers/w6_go_client"
# py_module <module> <implementation>: true when python has the module,
# else a "skipped" row.
py_module() {
    $PY -c "import $1" 2>/dev/null && return 0
    if [ -z "${ONLY:-}" ] || printf 'w6_http\n' | grep -Eq "$ONLY"; then
        printf '%-10s %-34s (skipped: python has no %s)\n' w6_http "$2" "$1"
    fi
    return 1
}
py_module aiohttp "python aiohttp, 100 in flight" &&
    w6_peer "python aiohttp, 100 in flight"     $PY "$here/peers/w6_http/py_aiohttp.py"
py_module requests "python requests, 100 threads" &&
    w6_peer "python requests, 100 threads"      $PY "$here/peers/w6_http/py_requests_threads.py"

# W6 server: the local service under wrk, 1,000 keep-alive connections,
# beside Go's net/http server (rows added by bench_serve).
# bench_serve.sh runs each server in a process of its own, on port 18086;
# the Go peer always sleeps 20 ms per request, so concur runs both ways.
row w6_server "concur serve, no latency"        "$here/bench_serve.sh" 18086 "$build/bin/concur" serve --port 18086
row w6_server "concur serve --latency 0.02"     "$here/bench_serve.sh" 18086 "$build/bin/concur" serve --port 18086 --latency 0.02
row w6_server "go net/http (sleeps 20 ms)"      "$here/bench_serve.sh" 18086 "$peers/w6_go_server" 18086
} 2>&1 | tee "$results"

# The Markdown page of this run.
page=$here/../docs/benchmarks.md
if [ -n "${ONLY:-}" ]; then
    echo "note: ONLY is set, so docs/benchmarks.md is left as it is" \
        "(bench/report.py $results OUT.md makes a page of this run)"
elif command -v "$PY" >/dev/null 2>&1; then
    "$PY" "$here/report.py" "$results" "$page" && echo "wrote docs/benchmarks.md"
else
    echo "note: no python3, so docs/benchmarks.md is not regenerated" \
        "(the raw results are in $results)"
fi
