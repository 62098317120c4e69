/* The MPI environment's smoke test (ctest mpi_netns_hello, run through
 * scripts/mpi_netns.sh): every rank names itself -- rank, size, host name
 * and network namespace, i.e. which "host" it is on -- and rank 0 checks
 * that it can exchange a message both ways with every other rank, and, when
 * the harness says how many hosts it placed ranks on (CC_MPI_HOSTS), that
 * the ranks really are spread over that many distinct hosts.
 * Exit status 0 when all holds; otherwise a message and MPI_Abort. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { ID_LEN = 160, TAG_PING = 1, TAG_PONG = 2 };

/* "<host name> <net namespace>" of the calling process. */
static void identity(char *out, size_t len)
{
    char host[64] = "?", ns[64] = "?";
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "?");
    ssize_t n = readlink("/proc/self/ns/net", ns, sizeof ns - 1);
    ns[n > 0 ? n : 1] = '\0';
    snprintf(out, len, "%s %s", host, ns);
}

static void fail(const char *what, int rank)
{
    fprintf(stderr, "mpi_hello: %s (rank %d)\n", what, rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    char me[ID_LEN];
    identity(me, sizeof me);
    printf("rank %d of %d on %s\n", rank, size, me);
    fflush(stdout);

    char *all = NULL;
    if (rank == 0 && !(all = calloc((size_t)size, ID_LEN)))
        fail("out of memory", rank);
    MPI_Gather(me, ID_LEN, MPI_CHAR, all, ID_LEN, MPI_CHAR, 0, MPI_COMM_WORLD);

    if (rank == 0) {
        /* A ping to every rank, which answers with the value plus one. */
        for (int r = 1; r < size; r++) {
            int ping = 1000 * r + 7, pong = 0;
            MPI_Send(&ping, 1, MPI_INT, r, TAG_PING, MPI_COMM_WORLD);
            MPI_Recv(&pong, 1, MPI_INT, r, TAG_PONG, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            if (pong != ping + 1)
                fail("wrong answer to a ping", r);
        }
        int hosts = 0;
        for (int r = 0; r < size; r++) {
            int seen = 0;
            for (int q = 0; q < r && !seen; q++)
                seen = strcmp(all + (size_t)q * ID_LEN,
                              all + (size_t)r * ID_LEN) == 0;
            hosts += !seen;
        }
        const char *want = getenv("CC_MPI_HOSTS");
        if (want && atoi(want) != hosts) {
            fprintf(stderr, "mpi_hello: ranks on %d hosts, the harness "
                    "placed them on %s\n", hosts, want);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        printf("mpi_hello: %d ranks on %d hosts, every exchange answered\n",
               size, hosts);
        free(all);
    } else {
        int ping = 0;
        MPI_Recv(&ping, 1, MPI_INT, 0, TAG_PING, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        ping += 1;
        MPI_Send(&ping, 1, MPI_INT, 0, TAG_PONG, MPI_COMM_WORLD);
    }
    MPI_Finalize();
    return 0;
}
