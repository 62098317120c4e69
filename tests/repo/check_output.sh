#!/bin/sh
# Runs a program and checks its output: it must exit 0, and every line of the
# expect file (an extended regular expression; empty lines and lines starting
# with '#' are skipped) must match an output line, in order.
# Usage: check_output.sh <expect-file> <program> [args...]
set -u
expect=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
status=$?
cat "$out"
if [ $status -ne 0 ]; then
    echo "check_output: '$*' exited with status $status" >&2
    exit 1
fi
line=1
total=$(wc -l <"$out")
while IFS= read -r pattern || [ -n "$pattern" ]; do
    case "$pattern" in ''|'#'*) continue ;; esac
    found=0
    while [ "$line" -le "$total" ]; do
        text=$(sed -n "${line}p" "$out")
        line=$((line + 1))
        if printf '%s\n' "$text" | grep -Eq -- "$pattern"; then
            found=1
            break
        fi
    done
    if [ $found -eq 0 ]; then
        echo "check_output: no output line (in order) matches: $pattern" >&2
        exit 1
    fi
done <"$expect"
echo "check_output: all expectations of $(basename "$expect") met"
