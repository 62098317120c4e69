#!/bin/sh
# Installs the built library into a scratch prefix, then builds and runs a
# tiny outside program against it: with pkg-config, with CMake's
# find_package(concur), and with pkg-config again in a /usr-style tree
# whose libdir is Debian's multiarch lib/x86_64-linux-gnu (its concur.pc
# from a configure with that libdir: the prefix is one folder further up);
# then a fully static program with a process pool.
# Usage: check_install.sh <build-dir> <this-dir> <cc>
set -eu
build=$1
here=$2
cc=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/prefix" >/dev/null

# 0. The command is installed with the library, and says its version.
if [ -e "$build/bin/concur" ]; then
    "$scratch/prefix/bin/concur" --version | grep -q '^concur [0-9]'
fi

# 0b. The man pages are installed and man finds them: concur(1), the
# overview concur(3), a page per layer and one per function.
if [ -f "$build/docs/man/man3/concur-queue.3" ]; then
    mandir=$(ls -d "$scratch"/prefix/share/man)
    for page in "3 concur" "3 concur-queue" "3 cc_queue_put"; do
        # shellcheck disable=SC2086
        MANWIDTH=80 man -M "$mandir" -P cat $page 2>/dev/null | grep -q 'cc_queue_put\|concur' || {
            echo "installed man pages: 'man $page' does not work" >&2
            exit 1
        }
    done
    if [ -e "$build/bin/concur" ]; then
        MANWIDTH=80 man -M "$mandir" -P cat 1 concur 2>/dev/null | grep -q 'CONCUR SERVE' || {
            echo "installed man pages: 'man 1 concur' does not work" >&2
            exit 1
        }
    fi
    [ -f "$(ls -d "$scratch"/prefix/share/doc/*)/html/index.html" ] || {
        echo "the HTML reference is not installed" >&2
        exit 1
    }
fi

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
# 3. pkg-config in a multiarch /usr-style tree.
multi=lib/x86_64-linux-gnu
cmake -S "$here/../.." -B "$scratch/multiarch-build" -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=$multi \
      -DCONCUR_TOOLS=OFF -DCONCUR_TESTS=OFF -DCONCUR_EXAMPLES=OFF \
      -DCONCUR_BENCH=OFF >/dev/null
usr=$scratch/root/usr
mkdir -p "$usr/$multi/pkgconfig"
cp -R "$scratch/prefix/include" "$usr/include"
for lib in "$scratch"/prefix/lib*/libconcur.*; do
    cp -P "$lib" "$usr/$multi/"
done
cp "$scratch/multiarch-build/concur.pc" "$usr/$multi/pkgconfig/"
flags=$(PKG_CONFIG_PATH="$usr/$multi/pkgconfig" pkg-config --cflags --libs concur)
inc=$(PKG_CONFIG_PATH="$usr/$multi/pkgconfig" pkg-config --variable=includedir concur)
if [ "$(realpath "$inc")" != "$(realpath "$usr/include")" ]; then
    echo "multiarch concur.pc: includedir $inc is not $usr/include" >&2
    exit 1
fi
"$cc" -std=c11 -Wall -Werror "$here/consumer.c" $flags -o "$scratch/via_multiarch"
LD_LIBRARY_PATH="$usr/$multi" "$scratch/via_multiarch"
# 4. A fully static executable (README's recipe): the library archive, no
# libcurl (the program makes no HTTP request), and a process pool.  The
# linker's warning about dlopen in a static program is expected.
archive=$(ls "$scratch"/prefix/lib*/libconcur.a | head -n 1)
"$cc" -std=c11 -static "$here/static_pool.c" -I"$scratch/prefix/include" \
      "$archive" -pthread -o "$scratch/static_pool" 2>"$scratch/static.log" || {
    cat "$scratch/static.log" >&2
    exit 1
}
"$scratch/static_pool"
echo "ok: pkg-config (lib/ and multiarch), find_package(concur) and a static program work"
