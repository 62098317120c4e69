#!/bin/sh
# The library's man pages, as built from the headers (cmake/docs.cmake):
#   - an overview concur(3) and a page per header, concur-<layer>(3);
#   - a page for every function the shared library exports (nm -D), so no
#     public function is left out of the reference, each resolving to a
#     page that documents it, with text under its name;
#   - every page renders without a troff warning;
#   - Doxygen reported nothing: no undocumented public name (the reference
#     leaves those out) and no malformed comment.
# Usage: check_man_pages.sh <build/docs> <libconcur.so> <include dir>
set -eu
docs=$1
lib=$2
inc=$3
man3=$docs/man/man3
fail=0
bad() { echo "check_man_pages: $*" >&2; fail=1; }

[ -f "$man3/concur.3" ] || bad "no concur.3 (the overview)"
for h in "$inc"/concur/*.h; do
    layer=$(basename "$h" .h)
    [ -f "$man3/concur-$layer.3" ] || bad "no concur-$layer.3 for $h"
done

n=0
for sym in $(nm -D --defined-only "$lib" | awk '$3 ~ /^cc_/ {print $3}'); do
    n=$((n + 1))
    page=$man3/$sym.3
    if [ ! -f "$page" ]; then
        bad "no man page for the exported function $sym"
        continue
    fi
    target=$(sed -n 's|^\.so man3/||p' "$page")
    if [ -n "$target" ]; then
        [ -f "$man3/$target" ] || bad "$sym.3 points to a missing $target"
        # the target documents it: a section titled with its signature
        grep -q "^\.SS \".*[ *]$sym (" "$man3/$target" ||
            bad "$target has no entry for $sym"
    fi
done
[ "$n" -ge 50 ] || bad "only $n exported functions found in $lib"

for page in "$man3"/*.3; do
    grep -q '^\.so ' "$page" && continue
    out=$(groff -man -ww -z -Tutf8 "$page" 2>&1) || bad "groff failed on $page"
    [ -z "$out" ] || bad "troff warnings in $page: $out"
done

if [ -s "$docs/doxygen-warnings.txt" ]; then
    bad "Doxygen warned:"
    cat "$docs/doxygen-warnings.txt" >&2
fi
[ "$fail" -eq 0 ] || exit 1
echo "ok: $(ls "$man3" | wc -l) pages, $n exported functions each with one"
