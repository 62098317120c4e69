#!/bin/sh
# Runs a representative subset of the tests under valgrind: memcheck on
# each (no error, no byte definitely lost), then a smaller subset under
# helgrind and under DRD (no error).  The tests come from a build
# configured with -DCONCUR_VALGRIND=ON (`make test-valgrind`), where the
# library registers its coroutine stacks and annotates its futex and
# atomic synchronisation (src/internal/vg.h).  Any error fails the run;
# each tool's log is kept in <build>/valgrind/.
#   usage: scripts/valgrind.sh <build-dir>
set -eu
build=${1:?usage: scripts/valgrind.sh <build-dir>}
tests=$build/tests
logs=$build/valgrind
mkdir -p "$logs"

# memcheck: sync primitives, futures and the thread pool, the event loop
# (tasks, groups, cancellation, stacks), queues, and the net layer.  Not
# here: the process pool, subprocesses and test_loop's pidfd case --
# Debian 12's valgrind (3.19) does not implement pidfd_open, which they
# need -- and test_mixed (a minute under memcheck for little more).
memcheck_tests="test_counter test_lock test_event test_sem test_future
  test_wait test_thread_pool test_queue test_task test_group test_cancel
  test_stack test_connect test_stream"
# helgrind and DRD: the counter program, the locks, events, futures and
# the thread pool.  DRD serialises threads more strictly; the stress tests
# that spin on another thread's progress (test_lock's, the thread pool's
# cancel race, test_wait's map) take many minutes there, so it runs the
# others.
helgrind_tests="test_counter test_lock test_event test_thread_pool test_wait"
drd_tests="test_counter test_event test_future"

failed=0
# run <tool> <test> <valgrind options...>: one test under one tool; a
# failure (the test's or an error valgrind found: exit code 99) is
# counted and its log named.
run() {
    tool=$1 t=$2
    shift 2
    log=$logs/$tool-$t.log
    start=$(date +%s)
    # KILL: valgrind does not always die of SIGTERM while threads spin.
    if timeout -s KILL 600 valgrind --tool="$tool" --error-exitcode=99 \
        --log-file="$log" "$@" "$tests/$t" \
        >"$logs/$tool-$t.out" 2>&1; then
        printf '  %-10s %-22s ok      (%ss)\n' "$tool" "$t" \
            $(($(date +%s) - start))
    else
        printf '  %-10s %-22s FAILED  (%ss): see %s\n' "$tool" "$t" \
            $(($(date +%s) - start)) "$log"
        tail -n 20 "$logs/$tool-$t.out" | sed 's/^/    /'
        grep -A12 '^==[0-9]*== [A-Z]' "$log" | head -n 40 | sed 's/^/    /'
        failed=$((failed + 1))
    fi
}

# The tests scale their time bounds under valgrind (tests/test_util.h).
echo "memcheck:"
for t in $memcheck_tests; do
    run memcheck "$t" --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --track-origins=no
done
echo "helgrind:"
for t in $helgrind_tests; do
    run helgrind "$t"
done
echo "drd:"
for t in $drd_tests; do
    run drd "$t"
done

if [ "$failed" -ne 0 ]; then
    echo "valgrind: $failed run(s) failed" >&2
    exit 1
fi
echo "valgrind: every run clean"
