/*
 * tour_table.c - the tour's table, printed a row at a time as the runs
 * finish (so a slow run shows where it is): the scenario, the model, the
 * time, the speedup over the scenario's sync run, what came out, and the
 * figure the seed printed for the same model in Python.
 */
#include "tour.h"

/* Column widths (the header and every row use them). */
#define ROW_FORMAT "%-24s %-18s %8s %8s  %-34s %s\n"

void tour_table_header(FILE *out)
{
    fprintf(out, ROW_FORMAT, "scenario", "model", "time", "speedup",
            "result", "the seed's Python");
    tour_table_rule(out);
}

void tour_table_rule(FILE *out)
{
    fprintf(out, "%.*s\n", 24 + 1 + 18 + 1 + 8 + 1 + 8 + 2 + 34 + 1 + 18,
            "-------------------------------------------------------------"
            "-------------------------------------------------------------");
    fflush(out);
}

void tour_table_row(FILE *out, const tour_row *row)
{
    char seconds[16] = "-";
    char speedup[16] = "-";
    char result[64];

    if (row->seconds >= 0)
        snprintf(seconds, sizeof(seconds), "%.2f s", row->seconds);
    if (row->seconds > 0 && row->base_seconds > 0)
        snprintf(speedup, sizeof(speedup), "%.1fx",
                 row->base_seconds / row->seconds);
    snprintf(result, sizeof(result), "%s%s", row->ok ? "" : "WRONG: ",
             row->result);
    fprintf(out, ROW_FORMAT, row->label != NULL ? row->label : "", row->model,
            seconds, speedup, result, row->seed_figure);
    fflush(out);
}
