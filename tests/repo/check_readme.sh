#!/bin/sh
# Keeps README.md honest: extracts its first ```c block (the taste of the
# API), compiles it against the built static library with -Werror, runs it,
# and checks that it prints the error it promises.
# Usage: check_readme.sh <readme> <include-dir> <libconcur.a> <cc>
set -eu
readme=$1
inc=$2
lib=$3
cc=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk '/^```c$/ { on = 1; next } /^```$/ && on { exit } on' "$readme" >"$dir/taste.c"
[ -s "$dir/taste.c" ] || { echo "no C example in $readme" >&2; exit 1; }
"$cc" -std=c11 -Wall -Wextra -Werror -I"$inc" "$dir/taste.c" "$lib" -pthread -o "$dir/taste"
out=$("$dir/taste" 2>&1)
echo "$out"
echo "$out" | grep -q "job 13 is unlucky (EDOM) at taste.c:[0-9]* in thread 'worker'"
