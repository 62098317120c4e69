/*
 * tour_cmd.c - `concur tour`: the options, then every scenario in every
 * model (tour_io.c, tour_cpu.c), one table, and a word on where the seeds'
 * figures come from.  Exit status 0 when every run gave the right answer.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "concur/base.h"
#include "tour.h"

enum { EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: concur tour [--quick] [--base-url URL] [--only LIST]\n"
    "\n"
    "Run each scenario of the seeds in each concurrency model and print a\n"
    "table of times and speedups beside the seeds' own Python figures.\n"
    "The network scenarios talk to a local service started in this process\n"
    "(with the latency of a remote one) unless --base-url is given.  With\n"
    "MPI built in and mpirun in PATH, gcd and math also run on MPI ranks.\n"
    "\n"
    "  -q, --quick         a quarter of the latency, a tenth of the math\n"
    "  -b, --base-url URL  real services instead (e.g. https://api.example)\n"
    "  -o, --only LIST     only these scenarios, comma-separated: rates,\n"
    "                      sponsors, pokemon, download, gcd, math\n"
    "  -h, --help          show this help\n";

static const char *const scenario_keys[] = {"rates", "sponsors", "pokemon",
                                            "download", "gcd", "math"};

bool tour_wanted(const tour_cfg *cfg, const char *key)
{
    size_t len = strlen(key);

    if (cfg->only == NULL)
        return true;
    for (const char *p = cfg->only; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, key, len) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* Every name of an --only list must be a scenario: NULL, or the bad one
 * (copied into bad). */
static const char *bad_scenario(const char *list, char *bad, size_t size)
{
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ",");
        bool known = false;
        for (size_t i = 0; i < sizeof(scenario_keys) / sizeof(*scenario_keys);
             i++)
            known |= strlen(scenario_keys[i]) == n &&
                     strncmp(p, scenario_keys[i], n) == 0;
        if (!known) {
            snprintf(bad, size, "%.*s", (int)n, p);
            return bad;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return NULL;
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "concur tour: %s%s%s%s\nTry 'concur tour --help'.\n",
            what, arg != NULL ? " '" : "", arg != NULL ? arg : "",
            arg != NULL ? "'" : "");
    return EXIT_USAGE;
}

int tour_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, 'q'},
        {"base-url", required_argument, NULL, 'b'},
        {"only", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        /* the MPI ranks model's own run, under mpirun (tour_mpi.c) */
        {"mpi-child", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    const char *mpi_child = NULL;
    tour_cfg cfg = {.out = stdout};
    char bad[64];
    double start;
    int wrong = 0;
    int ch;

    opterr = 0;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "+qb:o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            cfg.quick = true;
            break;
        case 'b':
            if (fetch_url_check(optarg) != NULL)
                return usage_error(fetch_url_check(optarg), optarg);
            cfg.base_url = optarg;
            break;
        case 'o':
            if (bad_scenario(optarg, bad, sizeof(bad)) != NULL)
                return usage_error("no such scenario (rates, sponsors, "
                                   "pokemon, download, gcd, math):", bad);
            cfg.only = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 'M':
            mpi_child = optarg;
            break;
        default:
            return usage_error("unknown option or missing value:",
                               argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (mpi_child != NULL)
        return tour_cpu_mpi_child(mpi_child, cfg.quick);
    /* a trailing slash would double the one every path starts with */
    char *base = NULL;
    if (cfg.base_url != NULL) {
        base = strdup(cfg.base_url);
        if (base == NULL)
            return 1;
        size_t len = strlen(base);
        while (len > 0 && base[len - 1] == '/')
            base[--len] = '\0';
        cfg.base_url = base;
    }
    cfg.cpus = cc_cpu_count();
    /* the CPU-bound speedups need idle CPUs: say how busy they were */
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    fprintf(cfg.out, "concur tour: the seeds' scenarios in each model, "
            "%d CPUs%s; network scenarios against %s\n", cfg.cpus,
            cfg.quick ? ", --quick" : "",
            cfg.base_url != NULL ? cfg.base_url
                                 : "a local service (its latency below)");
    if (load >= 0)
        fprintf(cfg.out, "(load average %.2f at the start: the CPU-bound "
                "speedups need idle CPUs)\n\n", load);
    tour_table_header(cfg.out);
    start = cc_now();
    wrong += tour_io_run(&cfg);
    wrong += tour_cpu_run(&cfg);
    fprintf(cfg.out,
            "\nspeedup: the scenario's sync time over the model's.  The "
            "seed's figures are its\nauthor's Python runs on another "
            "machine, over the Internet for the network\nscenarios: Expert "
            "Python ch. 6 (api.vatcomply.com), the blog (pokemondb.net;\n"
            "cpu_bound), Effective Python item 79 (8 cores); the sponsors "
            "seed and the\ncourse notes print none.  Compare the speedups, "
            "not the seconds.  The MPI ranks\nrows run in an mpirun of "
            "their own, timed inside rank 0 (the ranks' start not\n"
            "counted).\n");
    fprintf(cfg.out, "\ntour: %d run%s wrong, %.1f s in all\n", wrong,
            wrong == 1 ? "" : "s", cc_now() - start);
    free(base);
    return wrong > 0 ? 1 : 0;
}
