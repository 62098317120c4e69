/* Peer of concur's MPI executor for latency (workload mpi_latency): raw
 * MPI_Send / MPI_Recv of one 8-byte message from rank 0 to rank 1 and back,
 * the floor under any executor that runs tasks on MPI ranks.  Run with 2
 * ranks (bench/run.sh: over shared memory, and over TCP between the two
 * "hosts" of scripts/mpi_netns.sh).  Rank 0 prints
 * "RESULT <metric> <value> <unit>" lines: the median over `reps` runs of
 * the mean round trip of `trips` round trips, after a warm-up.
 *   usage: mpi_pingpong [trips] [reps]      (defaults 20000 and 5) */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { TAG = 7 };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* trips round trips; the mean one in seconds on rank 0, 0 elsewhere. */
static double pingpong(int rank, long trips)
{
    long long v = 0;
    double t0 = MPI_Wtime();
    for (long i = 0; i < trips; i++) {
        if (rank == 0) {
            v = i;
            MPI_Send(&v, 1, MPI_LONG_LONG, 1, TAG, MPI_COMM_WORLD);
            MPI_Recv(&v, 1, MPI_LONG_LONG, 1, TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (v != i + 1) {
                fprintf(stderr, "mpi_pingpong: wrong answer %lld to %ld\n", v, i);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
        } else if (rank == 1) {
            MPI_Recv(&v, 1, MPI_LONG_LONG, 0, TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            v++;
            MPI_Send(&v, 1, MPI_LONG_LONG, 0, TAG, MPI_COMM_WORLD);
        }
    }
    return rank == 0 ? (MPI_Wtime() - t0) / (double)trips : 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long trips = argc > 1 ? atol(argv[1]) : 20000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (size < 2 || trips < 1 || reps < 1 || reps > 100) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -n 2 mpi_pingpong [trips] [reps 1-100]\n");
        MPI_Finalize();
        return 2;
    }
    double runs[100];
    pingpong(rank, trips / 10 + 1); /* warm-up: connections made, caches hot */
    for (int r = 0; r < reps; r++)
        runs[r] = pingpong(rank, trips);
    if (rank == 0) {
        qsort(runs, (size_t)reps, sizeof runs[0], cmp_double);
        printf("INFO trips %ld\nINFO reps %d\n", trips, reps);
        printf("RESULT roundtrip_us %.6g us\n", runs[reps / 2] * 1e6);
        printf("RESULT roundtrips_per_s %.6g 1/s\n", 1 / runs[reps / 2]);
    }
    MPI_Finalize();
    return 0;
}
