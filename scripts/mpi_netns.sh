#!/bin/sh
# Two "hosts" on one machine for MPI programs: runs a program under mpirun
# with its ranks spread over two network namespaces joined by a veth pair
# (10.231.0.1/24 is host ccA, 10.231.0.2/24 is host ccB), so the ranks talk
# over real TCP between network stacks, as on two machines.  mpirun starts
# in ccA; it starts its daemon in ccB through OpenMPI's rsh agent, which
# here is a small script running `ip netns exec` instead of ssh.  Each side
# also gets its own host name (a UTS namespace) and its own /etc/hosts
# naming both (ip netns exec mounts /etc/netns/<ns>/hosts over /etc/hosts
# for its command only; the machine's /etc/hosts is not touched).  OpenMPI
# uses only its TCP transport, and only on the veth.  Everything made is
# removed at the end, and namespaces left by a killed earlier run are
# removed at the start.
#
# Without CAP_NET_ADMIN (or with CC_MPI_NETNS=off) it says so and runs the
# ranks on this host, still over TCP only, on the loopback.
#
# The program sees CC_MPI_HOSTS: how many hosts its ranks were placed on
# (2, or 1 on the fallback).  Ranks are placed round-robin (rank 0 on ccA,
# rank 1 on ccB, ...) and not bound to cores: each "host" would bind its
# first rank to the same core 0, and two polling ranks sharing one core
# turn a 30 us TCP round trip into 5-10 ms.
#   usage: scripts/mpi_netns.sh [-n RANKS] [--] program [args]   (RANKS: 4)
set -u
here=$(cd "$(dirname "$0")" && pwd)
ranks=4
case "${1:-}" in
    -n) ranks=${2:?usage: scripts/mpi_netns.sh [-n RANKS] [--] program [args]}
        shift 2 ;;
esac
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { echo "usage: scripts/mpi_netns.sh [-n RANKS] [--] program [args]" >&2; exit 2; }
case "$1" in
    /*) ;;
    */*) set -- "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" "$@"; shift ;;
esac

net=10.231.0
nsa=ccmpiA$$
nsb=ccmpiB$$
work=

# Namespaces and their /etc/netns folders of a run that was killed (its
# shell's pid is gone): only names this script makes.
sweep() {
    for ns in $(ip netns list 2>/dev/null | sed -n 's/^\(ccmpi[AB][0-9][0-9]*\).*/\1/p'); do
        pid=${ns#ccmpi?}
        if [ "$pid" = $$ ] || kill -0 "$pid" 2>/dev/null; then
            continue
        fi
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
        rm -rf "/etc/netns/$ns"
    done
}

cleanup() {
    for ns in $nsa $nsb; do
        # Only processes started in our namespaces, i.e. by this run.
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
        rm -rf "/etc/netns/$ns"
    done
    [ -n "$work" ] && rm -rf "$work"
}

# setup: the two namespaces, the veth between them, names, and the agent.
setup() {
    ip netns add $nsa 2>/dev/null || return 1
    ip netns add $nsb || return 1
    ip link add va$$ type veth peer name vb$$ || return 1
    ip link set va$$ netns $nsa && ip link set vb$$ netns $nsb || return 1
    ip -n $nsa addr add $net.1/24 dev va$$ || return 1
    ip -n $nsb addr add $net.2/24 dev vb$$ || return 1
    for ns in $nsa $nsb; do
        ip -n "$ns" link set lo up || return 1
    done
    ip -n $nsa link set va$$ up && ip -n $nsb link set vb$$ up || return 1
    for ns in $nsa $nsb; do
        mkdir -p "/etc/netns/$ns" || return 1
        printf '127.0.0.1 localhost\n%s.1 ccA\n%s.2 ccB\n' $net $net \
            > "/etc/netns/$ns/hosts" || return 1
    done
    # OpenMPI calls its rsh agent as ssh: [options] host command words,
    # which a remote shell would join and run.
    cat > "$work/agent.sh" <<AGENT || return 1
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1
shift
case "\$host" in
    ccA|$net.1) ns=$nsa ;;
    ccB|$net.2) ns=$nsb ;;
    *) echo "mpi_netns agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$host && \$*"
AGENT
    chmod +x "$work/agent.sh" || return 1
    printf 'ccA slots=%s\nccB slots=%s\n' "$ranks" "$ranks" > "$work/hosts"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
sweep
work=$(mktemp -d) || exit 1
if [ "${CC_MPI_NETNS:-on}" != off ] && setup; then
    echo "mpi_netns: $ranks ranks on hosts ccA ($net.1, namespace $nsa) and ccB ($net.2, $nsb), TCP over a veth pair"
    CC_MPI_HOSTS=2
    export CC_MPI_HOSTS
    ip netns exec $nsa unshare --uts sh -c 'hostname ccA && exec "$@"' sh \
        "$here/mpirun.sh" -n "$ranks" --hostfile "$work/hosts" --map-by node --bind-to none \
        --mca plm_rsh_agent "$work/agent.sh" \
        --mca btl tcp,self --mca btl_tcp_if_include $net.0/24 \
        --mca oob_tcp_if_include $net.0/24 -x CC_MPI_HOSTS "$@"
    status=$?
else
    why="cannot make network namespaces (needs root or CAP_NET_ADMIN)"
    [ "${CC_MPI_NETNS:-on}" = off ] && why="CC_MPI_NETNS=off"
    echo "mpi_netns: note: $why; running the $ranks ranks on this host over TCP on the loopback"
    cleanup
    work=
    CC_MPI_HOSTS=1
    export CC_MPI_HOSTS
    "$here/mpirun.sh" -n "$ranks" --mca btl tcp,self --mca btl_tcp_if_include lo \
        --mca oob_tcp_if_include lo -x CC_MPI_HOSTS "$@"
    status=$?
fi
exit $status
