#!/bin/sh
# Installs the Debian packages concur needs, if any is missing.  Run as root
# it installs them with apt-get; otherwise it names what is missing and
# fails.  Quiet and fast (one dpkg-query) when everything is there, so the
# Makefile can call it before every build.
#   usage: scripts/install-deps.sh [build|bench]
set -eu
# build: compilers, CMake, cmocka (tests), pkg-config (finding cmocka and
# checking the installed concur.pc), clang (second compiler, sanitizers),
# openssl (the command the subprocess examples and their tests run; its
# libssl3 brings the legacy provider with Whirlpool), libcurl (the http
# layer's transfers, TLS through OpenSSL), node-llhttp (Node's llhttp,
# the request parser of the local service `concur serve`: Debian 12 ships
# it only as C sources, which the build compiles; Debian 13 has
# libllhttp-dev), Node's older http-parser (the service's fallback
# parser, and the second one its tests run on), cJSON (the JSON the
# exchange-rate examples read and the service writes), python3 (the
# layering check, scripts/check_layers.py, that `make test` runs),
# valgrind (`make test-valgrind`: the tools and their client-request
# headers), Doxygen (the HTML reference and the man pages, from the
# headers' comments), man-db and groff-base (the tests read the man pages
# as man does), OpenMPI (mpicc, mpirun and the MPI headers and library
# for the MPI tests and the MPI executor; scripts/mpirun.sh starts it),
# iproute2 (`ip netns`: scripts/mpi_netns.sh's two "hosts" on one machine).
pkgs="gcc clang cmake make pkg-config libcmocka-dev binutils openssl python3"
pkgs="$pkgs openmpi-bin libopenmpi-dev iproute2"
pkgs="$pkgs valgrind doxygen man-db groff-base"
pkgs="$pkgs libcurl4-openssl-dev node-llhttp libhttp-parser-dev libcjson-dev"
if [ "${1:-build}" = "bench" ]; then
    # bench: the peers our benchmarks run beside ours (Go, Python's
    # queue/threading/asyncio and uvloop, Node, GLib, libuv for W5's C
    # echo servers), and GNU time.
    pkgs="$pkgs golang-go python3-uvloop nodejs libglib2.0-dev libuv1-dev time"
    # W6: aiohttp and requests (HTTP clients), wrk (the server load generator).
    pkgs="$pkgs python3-aiohttp python3-requests wrk"
    # The MPI workloads' Python peers: mpi4py (MPIPoolExecutor) and Dask
    # distributed (LocalCluster).
    pkgs="$pkgs python3-mpi4py python3-distributed"
fi
missing=""
for p in $pkgs; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "concur: missing Debian packages:$missing" >&2
    echo "concur: run 'sudo apt-get install$missing' (or make as root)" >&2
    exit 1
fi
echo "concur: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
