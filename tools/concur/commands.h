/*
 * commands.h - the subcommands of the `concur` tool.  Each takes the
 * arguments from its own name on (argv[0] is "serve", "fetch", ...) and
 * returns the process's exit status (0 ok, 1 failed, 2 bad usage).  To add
 * one: write tools/concur/<name>.c with its entry point, declare it here,
 * and add its line to the table in main.c.
 */
#ifndef CONCUR_TOOL_COMMANDS_H
#define CONCUR_TOOL_COMMANDS_H

/* `concur serve`: the local service (tools/service/cli.c). */
int svc_main(int argc, char **argv);

/* `concur fetch`: many URLs at once (tools/concur/fetch_cmd.c). */
int fetch_main(int argc, char **argv);

/* `concur tour`: the seeds' scenarios in each model (tour_cmd.c). */
int tour_main(int argc, char **argv);

#endif
