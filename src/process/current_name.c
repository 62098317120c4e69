/*
 * current_name.c - the calling process's name (process layer):
 * "MainProcess", or what cc_process_start or a pool worker set in a child.
 */
#include <stdio.h>

#include "concur/process.h"
#include "internal/error.h"
#include "internal/process.h"

/* Written only while the process has a single thread (see process.h). */
static char current_name[64] = "MainProcess";

void cc__process_set_current_name(const char *name)
{
    snprintf(current_name, sizeof(current_name), "%s", name);
    cc__error_set_process_name(name); /* errors raised here name it */
}

const char *cc_process_current_name(void)
{
    return current_name;
}
