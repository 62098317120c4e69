/*
 * main.c - the `concur` tool: dispatches `concur <command> [args]` to the
 * command's entry point (commands.h).  `concur help` / `--help` lists the
 * commands (exit 0); `concur version` / `--version` prints the library's
 * version, libcurl's and the request parser `concur serve` was built with
 * (exit 0); no command, or an unknown one, is a
 * usage error: the list on stderr, exit status 2.
 */
#include <stdio.h>
#include <string.h>

#include <concur.h>

#include "commands.h"
#include "service.h"

/* One line per command: name, entry point, one-line summary. */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", svc_main, "run the local HTTP service the examples talk to"},
    {"fetch", fetch_main, "fetch many URLs at once (sync, threads, processes, async)"},
    {"tour", tour_main, "run the seeds' scenarios in each model: times, speedups"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void help(FILE *f)
{
    fprintf(f, "usage: concur <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-8s %s\n", "version",
            "the versions of concur, libcurl and the request parser");
    fprintf(f, "  %-8s %s\n", "help", "this list");
    fprintf(f, "\n`concur <command> --help` describes a command.\n");
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : NULL;

    if (name == NULL) {
        help(stderr);
        return 2;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 ||
        strcmp(name, "-h") == 0) {
        help(stdout);
        return 0;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0 ||
        strcmp(name, "-V") == 0) {
        printf("concur %s (%s; serve: %s)\n", cc_version(),
               cc_http_version(), svc_parser_name());
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "concur: unknown command '%s' (see concur --help)\n",
            name);
    return 2;
}
