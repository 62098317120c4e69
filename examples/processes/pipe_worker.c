/*
 * pipe_worker - objects through a Pipe: the parent sends an integer, a
 * string, a small struct, an instance of a class of its own and finally
 * an empty message, the sentinel that stops the worker, then starts the
 * worker process, which receives them and prints each one.  Rebuilds the
 * Pipe example of Expert Python Programming, ch. 6, where pickle turns
 * objects into bytes; here each message is a blob with a one-byte type
 * tag in front, the C way.  The instance is printed as Python prints an
 * object without a __str__, with its address: the worker's copy is a new
 * object of its own, so its address differs from the parent's.
 *
 * The messages wait in the socket until the worker reads them: they were
 * sent before the worker existed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/process.h"

/* The small struct: Python's {'one': 1}. */
struct pair {
    char key[8];
    int32_t value;
};

/* The seed's `class CustomClass: pass` -- C needs one member. */
struct custom_class {
    char unused;
};

enum { TAG_INT = 'i', TAG_STR = 's', TAG_PAIR = 'p', TAG_CUSTOM = 'c' };

/* Print an instance as Python's default repr does. */
static void show_custom(const char *prefix, const struct custom_class *obj)
{
    printf("%s<__main__.CustomClass object at %p>\n", prefix,
           (const void *)obj);
}

/* A message: the tag, then the value's bytes. */
static void *encode(char tag, const void *value, size_t len)
{
    char *blob = cc_blob_new(1 + len);

    if (blob != NULL) {
        blob[0] = tag;
        memcpy(blob + 1, value, len);
    }
    return blob;
}

/* Print a message the way Python prints the object ("None" for the
 * sentinel), after `prefix`.  An instance is unpickled into a new object
 * first, as the worker's recv() does. */
static void show(const char *prefix, const char *blob)
{
    size_t len = cc_blob_len(blob);

    if (len == 0) {
        printf("%sNone\n", prefix);
    } else if (blob[0] == TAG_INT && len == 1 + sizeof(int32_t)) {
        int32_t v;

        memcpy(&v, blob + 1, sizeof(v));
        printf("%s%d\n", prefix, (int)v);
    } else if (blob[0] == TAG_STR) {
        printf("%s%.*s\n", prefix, (int)(len - 1), blob + 1);
    } else if (blob[0] == TAG_PAIR && len == 1 + sizeof(struct pair)) {
        struct pair pr;

        memcpy(&pr, blob + 1, sizeof(pr));
        printf("%s{'%.*s': %d}\n", prefix, (int)sizeof(pr.key), pr.key,
               (int)pr.value);
    } else if (blob[0] == TAG_CUSTOM &&
               len == 1 + sizeof(struct custom_class)) {
        struct custom_class *obj = malloc(sizeof(*obj));

        if (obj == NULL) {
            printf("%s<out of memory>\n", prefix);
            return;
        }
        memcpy(obj, blob + 1, sizeof(*obj));
        show_custom(prefix, obj);
        free(obj);
    } else {
        printf("%s<%zu bytes of unknown type>\n", prefix, len);
    }
}

/* The worker: receive until the empty message. */
static void *worker(void *arg)
{
    cc_conn *connection = arg;

    for (;;) {
        void *instance;

        if (cc_conn_recv(connection, &instance, CC_FOREVER) != 0)
            return cc_fail_from(cc_last_error(), 0, "worker: recv");
        if (cc_blob_len(instance) == 0) { /* `if instance is None: break` */
            cc_blob_free(instance);
            break;
        }
        show("CHLD: recv: ", instance);
        cc_blob_free(instance);
    }
    return arg;
}

int main(int argc, char **argv)
{
    cc_conn *parent_conn;
    cc_conn *child_conn;
    int32_t answer = 42;
    const char *text = "some string";
    struct pair one = {"one", 1};
    struct custom_class *instance;
    void *items[5];
    cc_process *child;
    int code = -1;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    if (cc_pipe_new(&parent_conn, &child_conn, true) != 0) {
        fprintf(stderr, "pipe_worker: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    items[0] = encode(TAG_INT, &answer, sizeof(answer));
    items[1] = encode(TAG_STR, text, strlen(text));
    instance = calloc(1, sizeof(*instance)); /* CustomClass() */
    if (instance == NULL) {
        fprintf(stderr, "pipe_worker: out of memory\n");
        return EXIT_FAILURE;
    }
    items[2] = encode(TAG_PAIR, &one, sizeof(one));
    items[3] = encode(TAG_CUSTOM, instance, sizeof(*instance));
    items[4] = cc_blob_new(0); /* the sentinel */
    for (int i = 0; i < 5; i++) {
        if (items[i] == NULL) {
            fprintf(stderr, "pipe_worker: out of memory\n");
            return EXIT_FAILURE;
        }
        /* the parent prints its own object, not a copy */
        if (i == 3)
            show_custom("PRNT: send: ", instance);
        else
            show("PRNT: send: ", items[i]);
        if (cc_conn_send(parent_conn, items[i], CC_FOREVER) != 0) {
            fprintf(stderr, "pipe_worker: send: %s\n", cc_errmsg());
            return EXIT_FAILURE;
        }
        cc_blob_free(items[i]);
    }
    free(instance);
    child = cc_process_start(worker, child_conn, NULL);
    if (child == NULL) {
        fprintf(stderr, "pipe_worker: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    cc_conn_close(child_conn); /* the worker's end lives on in the worker */
    if (cc_process_join(child, CC_FOREVER) != 0 ||
        cc_process_exitcode(child, &code) != 0 || code != 0) {
        fprintf(stderr, "pipe_worker: the worker failed (exit code %d)\n",
                code);
        cc_process_free(child);
        cc_conn_close(parent_conn);
        return EXIT_FAILURE;
    }
    cc_process_free(child);
    cc_conn_close(parent_conn);
    return 0;
}
