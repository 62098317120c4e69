#!/bin/sh
# Installs the built library into a scratch prefix, then builds and runs a
# tiny outside program against it twice: with pkg-config and with CMake's
# find_package(concur).  Usage: check_install.sh <build-dir> <this-dir> <cc>
set -eu
build=$1
here=$2
cc=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/prefix" >/dev/null

# 1. pkg-config, shared library.
export PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig:$scratch/prefix/lib64/pkgconfig"
flags=$(pkg-config --cflags --libs concur)
"$cc" -std=c11 -Wall -Werror "$here/consumer.c" $flags -o "$scratch/via_pkgconfig"
LD_LIBRARY_PATH="$scratch/prefix/lib:$scratch/prefix/lib64" "$scratch/via_pkgconfig"

# 2. find_package(concur) from a separate CMake project.
cmake -S "$here" -B "$scratch/cmake-build" -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/cmake-build" >/dev/null
"$scratch/cmake-build/consumer_static"
LD_LIBRARY_PATH="$scratch/prefix/lib:$scratch/prefix/lib64" \
    "$scratch/cmake-build/consumer_shared"
echo "ok: pkg-config and find_package(concur) both work"
