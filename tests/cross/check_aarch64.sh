#!/bin/sh
# Builds the library for AArch64 with Debian's cross compiler (installing
# it and qemu-user when run as root) and runs the switch check under
# qemu-user: the AArch64 assembly switch is tested on x86_64 machines too.
# Usage: tests/cross/check_aarch64.sh
set -eu
cd "$(dirname "$0")/../.."
need="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "check_aarch64: missing$missing (run as root to install)" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $missing >/dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Every layer but http and mpi: the check is about the switch and what runs
# on it, and libcurl and OpenMPI have no arm64 cross packages installed
# here.  The internal assertions are on, as in every test build.
srcs=$(ls src/*/*.c | grep -v -e switch_ucontext -e '^src/http/' -e '^src/mpi/')
aarch64-linux-gnu-gcc -O2 -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE \
    -DCC_BUILDING_LIBRARY=1 -DCONCUR_ASSERTS=1 -Iinclude -Isrc $srcs \
    src/aio/switch_aarch64.S \
    tests/cross/aarch64_switch.c -o "$out/aarch64_switch" -pthread -static -lm
qemu-aarch64 "$out/aarch64_switch"
