#!/bin/sh
# The main job.  By default: `concur tour` -- every seed scenario in every
# concurrency model against the local service, one table of times and
# speedups beside the seeds' own figures (options after the build folder go
# to the tour: --quick, --base-url URL, --only LIST).
# With --examples: runs every example program found in a build tree, one
# after the other, with a header before each and its wall time after it,
# then prints a summary.  Examples not built (yet) are skipped.  Exits 1 if
# any example failed.
# Usage: scripts/demo.sh <build-dir> [tour options]
#        scripts/demo.sh --examples <build-dir>
set -u
set -f  # no globbing when the argument lists are split

# One example per line: "<name> [args...] # <what it shows>".  Add new
# examples here, in the order they should run (quotes are fine in the text).
EXAMPLES=$(cat <<'LIST'
thread_hello   # Expert Python ch. 6, my_function in a thread, started and joined
thread_visits  # Expert Python ch. 6, counting visits with and without a lock
sensor_counter # Effective Python item 69, a shared counter and a Lock
slow_syscall   # Effective Python item 68, blocking system calls in threads
factorize      # Effective Python item 68, CPU-bound work on every CPU
pipeline       # Effective Python item 70, pipelines of threads and queues
bank_transfers --mode all # the blog's bank transfers, with and without a lock
executor_basics # Expert Python ch. 6, a future from a one-worker thread pool
life_serial    # Effective Python item 71, the Game of Life with blocking I/O
life_threads   # Effective Python item 72, one thread per cell per generation
life_queue     # Effective Python item 73, worker threads between two queues
life_queue --fail # Effective Python item 73, a worker's error comes back
life_pipeline  # Effective Python item 73, two stages of workers and queues
life_pool      # Effective Python item 74, fan-out/fan-in on a thread pool
life_pool_error # Effective Python item 74, a task's error reaches result()
life_big       # Effective Python items 72/74, 10,000 cells: threads vs pool
gcd            # Effective Python item 79, slow gcds serially and on 2 workers
do_math        # the blog's CPU-bound do_math, serially and on a pool
async_hello    # Expert Python ch. 6, a coroutine run by hand with run_until_complete
async_print    # Expert Python ch. 6, ten tasks print as their cc_sleeps end
waiters        # Expert Python ch. 6, a blocking sleep stalls the loop
bank_transfers_async # the blog's async transfers: updates lost at the sleeps
bank_transfers_async --locked # the same with a cc_lock held by each task
life_async     # Effective Python item 75, one task per cell per generation
log_merge      # Effective Python items 77-78, growing logs merged five ways
slow_coroutine # Effective Python item 78, debug mode reports a blocked loop
guess_game --server threads --client threads # Effective Python item 76, the guessing game on threads
guess_game --server async --client async # item 76 ported to tasks: the same session code
guess_game --server async --client threads # item 77's mix: a threaded client, a server of tasks
echo_server_client --style threads # asyncio's echo pair on streams, a thread per connection
echo_server_client --style async # the same echo pair, a task per connection on one loop
forks          # Expert Python ch. 6, one list of pids, two copies after fork
five_processes # Expert Python ch. 6, five child processes print their pids
pipe_worker    # Expert Python ch. 6, a child reads messages from a Pipe
value_array    # Expert Python ch. 6, Value and Array changed by a child
gcd_processes  # Effective Python item 79, slow gcds on 2 worker processes
do_math_processes # the blog's do_math serially, on threads, on processes
pool_swap --threads # Expert Python ch. 6, one program on a thread pool...
pool_swap --processes # ...and, by a flag, on a process pool
sponsors_fanout # the blog's sponsors: 64 children fill one shared dict
echo_run       # Effective Python item 67, run a program and capture its output
poll_working   # Effective Python item 67, poll a child while the parent works
parallel_sleeps # Effective Python item 67, ten sleep 1 children in about 1 s
encrypt        # Effective Python item 67, openssl enc fed through stdin pipes
encrypt_hash_pipeline # Effective Python item 67, enc | dgst chains of children
timeout_terminate # Effective Python item 67, communicate times out, terminate
rates_sync     # Expert Python ch. 6, the exchange-rate matrix one request at a time
rates_threads  # Expert Python ch. 6, one thread per base currency
rates_pool     # Expert Python ch. 6, four workers over a work queue
rates_two_queues # Expert Python ch. 6, results back to main on a second queue
rates_throttle # Expert Python ch. 6, ten requests a second through cc_throttle
rates_processes # Expert Python ch. 6, the five fetches on a process pool
rates_async    # Expert Python ch. 6, five tasks gathered on one loop
rates_async_pool # Expert Python ch. 6, tasks awaiting a blocking client on threads
sponsors_sequential # the blog's sponsors checker, 64 pages one after the other
sponsors_threads # the blog's sponsors checker, a thread per page
sponsors_processes # the blog's sponsors checker, a process per page, a shared dict
sponsors_lock  # the blog's sponsors checker, threads appending under a lock
sponsors_queue # the blog's sponsors checker, threads putting pages on a queue
sponsors_thread_pool # the blog's sponsors checker on a pool of 64 threads
sponsors_process_pool # the blog's sponsors checker on a pool of 64 processes
sponsors_async # the blog's sponsors checker, a task per page on one loop
pokemon_sync   # the blog's web/1_sync.py, 20 Pokemon one after the other
pokemon_threads # the blog's web/3_threaded.py, the 20 on a thread pool
pokemon_async  # the blog's web/2_async_aiohttp.py, the 20 as gathered tasks
pokemon_tasks --create-task # the blog's Pokemon tasks created by hand, awaited one by one
pokemon_tasks --task-group # the same twenty tasks in an asyncio.TaskGroup
pokemon_tasks --until-complete # a plain function runs a loop until their gather is done
download_site_threads # the course notes: 160 pages, 5 threads, a session each
download_site_async # the course notes: 160 pages as gathered tasks
download_site_processes # the course notes: a process pool with an initializer
LIST
)

usage() {
    echo "usage: $0 <build-dir> [tour options]" >&2
    echo "       $0 --examples <build-dir>" >&2
    exit 2
}

if [ $# -ge 1 ] && [ "$1" != "--examples" ]; then
    tool=$1/bin/concur
    shift
    if [ ! -x "$tool" ]; then
        echo "demo: no '$tool' (build the project first)" >&2
        exit 2
    fi
    exec "$tool" tour "$@"
fi
[ $# -eq 2 ] || usage
shift
bin_dir=$1/examples
if [ ! -d "$bin_dir" ]; then
    echo "demo: no examples folder in '$1' (build the project first)" >&2
    exit 2
fi

# Seconds since the epoch, with fractions where date(1) supports %N (GNU).
now() {
    t=$(date +%s.%N)
    case $t in
        *N) date +%s ;;
        *) printf '%s\n' "$t" ;;
    esac
}

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
failed=0

# Read the list line by line; the here-document keeps the loop in this shell.
while IFS= read -r line; do
    command=${line%%#*}
    case $line in
        *'#'*) about=${line#*#} ;;
        *) about='' ;;
    esac
    about=$(printf '%s' "$about" | sed 's/^ *//')
    # shellcheck disable=SC2086 # word splitting of the arguments is wanted
    set -- $command
    [ $# -eq 0 ] && continue
    name=$1
    shift
    if [ ! -x "$bin_dir/$name" ]; then
        printf '%-20s %8s  %s\n' "$name" "-" "not built, skipped" >>"$summary"
        continue
    fi
    echo "=== $name: $about"
    start=$(now)
    "$bin_dir/$name" "$@"
    status=$?
    end=$(now)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ $status -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit status $status)"
        failed=1
    fi
    echo "--- $name: $result in $seconds s"
    echo
    printf '%-20s %8s  %s\n' "$name" "$seconds" "$result" >>"$summary"
done <<EOF
$EXAMPLES
EOF

echo "=== summary"
printf '%-20s %8s  %s\n' "example" "seconds" "result"
cat "$summary"
exit $failed
