/*
 * env.c - the environment a child starts with (subprocess layer).
 *
 * Built in the parent for each start from opts->env (or the parent's
 * environ), minus opts->env_unset, plus opts->env_set (added, or replacing
 * a variable of the same name; the last of several wins).  The result is
 * an array of pointers into those strings, used until posix_spawn returns
 * and then freed: nothing is copied and nothing is kept.  No state, no
 * lock; reading environ races with a setenv in another thread exactly as
 * getenv or posix_spawnp would.
 */
#include <stdlib.h>
#include <string.h>

#include "internal/error.h"
#include "subprocess/subproc.h"

extern char **environ;

/* Length of the name of a "NAME=value" entry (up to the first '='). */
static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');

    return eq != NULL ? (size_t)(eq - entry) : strlen(entry);
}

/* True when entry "NAME=value" has the name name[0..len). */
static bool has_name(const char *entry, const char *name, size_t len)
{
    return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/* True when list (NULL-terminated; NULL: empty) holds a string whose name
 * is entry's (entries "N=v", or bare names when bare is true). */
static bool listed(const char *const *list, const char *entry, bool bare)
{
    size_t len = name_len(entry);

    for (; list != NULL && *list != NULL; list++) {
        if (bare ? strlen(*list) == len && strncmp(*list, entry, len) == 0
                 : has_name(*list, entry, len))
            return true;
    }
    return false;
}

static size_t count(const char *const *list)
{
    size_t n = 0;

    while (list != NULL && list[n] != NULL)
        n++;
    return n;
}

/* EINVAL for a "NAME=value" entry without '=' or with an empty name. */
static int check_entries(const char *const *list, const char *field)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        const char *eq = strchr(list[i], '=');

        if (eq == NULL || eq == list[i])
            return cc__errf(EINVAL, "cc_popen_new: %s[%zu] \"%.40s\" is not "
                                    "NAME=value", field, i, list[i]),
                   EINVAL;
    }
    return 0;
}

int cc__env_build(const cc_popen_opts *o, char ***envp)
{
    const char *const *base = o->env != NULL ? o->env
                                             : (const char *const *)environ;
    size_t nbase = count(base);
    size_t nset = count(o->env_set);
    size_t k = 0;
    char **env;
    int rc;

    rc = check_entries(o->env, "env");
    if (rc == 0)
        rc = check_entries(o->env_set, "env_set");
    if (rc != 0)
        return rc;
    for (size_t i = 0; o->env_unset != NULL && o->env_unset[i] != NULL; i++) {
        const char *n = o->env_unset[i];

        if (n[0] == '\0' || strchr(n, '=') != NULL)
            return cc__errf(EINVAL, "cc_popen_new: env_unset[%zu] \"%.40s\" "
                                    "is not a variable name", i, n),
                   EINVAL;
    }
    env = malloc((nbase + nset + 1) * sizeof(*env));
    if (env == NULL)
        return cc__err(ENOMEM, "cc_popen_new: out of memory"), ENOMEM;
    for (size_t i = 0; i < nbase; i++) {
        /* environ may hold odd entries (no '='): pass them on as they are,
         * as exec would. */
        if (listed(o->env_unset, base[i], true) ||
            listed(o->env_set, base[i], false))
            continue;
        env[k++] = (char *)base[i];
    }
    for (size_t i = 0; i < nset; i++) {
        /* The last entry of a name wins: skip one a later entry repeats. */
        if (listed(o->env_set + i + 1, o->env_set[i], false))
            continue;
        env[k++] = (char *)o->env_set[i];
    }
    env[k] = NULL;
    *envp = env;
    return 0;
}

const char *cc__env_get(char *const *envp, const char *name)
{
    size_t len = strlen(name);

    for (; envp != NULL && *envp != NULL; envp++)
        if (has_name(*envp, name, len))
            return *envp + len + 1;
    return NULL;
}
