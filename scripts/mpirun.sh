#!/bin/sh
# mpirun as the tests and benchmarks start it: OpenMPI's mpirun with
# --oversubscribe (a 2-CPU CI machine runs 3-4 ranks) and, when run as
# root (CI containers), the two variables OpenMPI wants before it lets
# root start ranks.  Everything else is passed through unchanged.
#   usage: scripts/mpirun.sh [mpirun options] program [args]
# MPIRUN=/path/to/mpirun picks another mpirun.
set -eu
if [ "$(id -u)" -eq 0 ]; then
    # OpenMPI refuses root unless both are set; mpirun hands them to its
    # daemons, so ranks on other hosts (scripts/mpi_netns.sh) are let in too.
    OMPI_ALLOW_RUN_AS_ROOT=1
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi
exec "${MPIRUN:-mpirun}" --oversubscribe "$@"
