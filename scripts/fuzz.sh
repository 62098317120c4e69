#!/bin/sh
# Run every libFuzzer harness of a CONCUR_FUZZ build for a set time each
# (`make fuzz`; .ci/run).  Usage: scripts/fuzz.sh BUILD_DIR SECONDS
#
# Each harness starts from its seed corpus (tests/fuzz/corpus/<name>/, read
# only) and writes the inputs it finds into BUILD_DIR/fuzz-corpus/<name>/,
# crash inputs into BUILD_DIR/fuzz-artifacts/.  Prints per harness the
# executions and the final coverage (cov: edges, ft: features); fails on
# the first crash, leak or failed CHECK.
set -eu
build=$1
secs=$2
src=$(cd "$(dirname "$0")/.." && pwd)
# allocator_may_return_null: the decoders are meant to answer ENOMEM.
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for name in $(cat "$build/tests/fuzz/harnesses.txt"); do
    corpus="$build/fuzz-corpus/$name"
    arts="$build/fuzz-artifacts/"
    log="$build/fuzz-$name.log"
    mkdir -p "$corpus" "$arts"
    echo "fuzz_$name: ${secs} s"
    if ! "$build/tests/fuzz/fuzz_$name" -max_total_time="$secs" \
            -print_final_stats=1 -artifact_prefix="$arts" \
            "$corpus" "$src/tests/fuzz/corpus/$name" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz_$name FAILED (log: $log; input in $arts)"
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 |
          sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*/\1 \2/p')
    echo "  executions: $execs  $cov"
done
