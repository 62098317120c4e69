#!/bin/sh
# Fails when the shared library exports anything but the public cc_* API
# (internal helpers are cc__* and must stay hidden), or fewer than <min>
# (default 50: the core) cc_* names.
# Usage: check_symbols.sh <lib.so> [min]
set -eu
lib=$1
min=${2:-50}
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^cc_' || true)
internal=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep '^cc__' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^cc_' || true)
if [ -n "$bad$internal" ]; then
    echo "exported symbols outside the public API:" >&2
    echo "$bad $internal" >&2
    exit 1
fi
if [ "$count" -lt "$min" ]; then
    echo "only $count cc_ symbols exported: is the API marked CC_API?" >&2
    exit 1
fi
echo "ok: $count public symbols, nothing else exported"
