#!/bin/sh
# Fails when the shared library exports anything but the public cc_* API
# (internal helpers are cc__* and must stay hidden).
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^cc_' || true)
internal=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep '^cc__' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^cc_' || true)
if [ -n "$bad$internal" ]; then
    echo "exported symbols outside the public API:" >&2
    echo "$bad $internal" >&2
    exit 1
fi
if [ "$count" -lt 50 ]; then
    echo "only $count cc_ symbols exported: is the API marked CC_API?" >&2
    exit 1
fi
echo "ok: $count public symbols, nothing else exported"
