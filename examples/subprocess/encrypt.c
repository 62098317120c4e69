/*
 * encrypt - feed data to children through pipes and read what they make
 * of it: three `openssl enc -des3` children, started together, each
 * given 10 random bytes on its stdin through cc_popen_communicate; the
 * last 10 bytes of each encrypted output are printed as Python prints
 * bytes (b'...').  Rebuilds the openssl program of Effective Python,
 * item 67.
 *
 * The password reaches openssl through its environment (-pass
 * env:password), added to a copy of ours with opts.env_set: never on the
 * command line, where every user of the machine could read it in ps.
 *
 * -pbkdf2: OpenSSL 3 still encrypts without it (the book's command), but
 * then warns on stderr that its default key derivation is deprecated;
 * PBKDF2 is the derivation it recommends, so the children stay quiet.
 * The output is "Salted__", the 8-byte salt and 16 bytes of cipher text,
 * different on every run.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bytes_repr.h"
#include "concur/subprocess.h"
#include "random_bytes.h"

enum { N_CHILDREN = 3, DATA_LEN = 10 };

/* Start an encrypting child with pipes to its stdin and stdout. */
static cc_popen *run_encrypt(void)
{
    static const char *const argv[] = {
        "openssl", "enc", "-des3", "-pbkdf2", "-pass", "env:password", NULL};
    static const char *const env_set[] = {
        "password=Vq3mT8xLr0bN2pKs/Ej6yWd+Hc5aZf1U", NULL};
    cc_popen_opts opts = {
        .in = CC_STDIO(CC_PIPE),
        .out = CC_STDIO(CC_PIPE),
        .env_set = env_set, /* our environment plus the password */
    };

    return cc_popen_new(argv, &opts);
}

int main(void)
{
    unsigned char data[N_CHILDREN][DATA_LEN];
    cc_popen *procs[N_CHILDREN] = {NULL};
    int failed = 0;

    /* Start all three first: they run side by side. */
    for (int i = 0; i < N_CHILDREN; i++) {
        if (random_bytes(data[i], DATA_LEN) != 0) {
            perror("encrypt: getrandom");
            failed = 1;
            break;
        }
        procs[i] = run_encrypt();
        if (procs[i] == NULL) {
            fprintf(stderr, "encrypt: %s\n", cc_errmsg());
            failed = 1;
            break;
        }
    }
    /* Then hand each its input and collect its output.  communicate
     * writes and reads at once, so any amount of data would do. */
    for (int i = 0; i < N_CHILDREN && !failed; i++) {
        void *out = NULL;
        int status;

        if (cc_popen_communicate(procs[i], data[i], DATA_LEN, CC_FOREVER,
                                 &out, NULL, &status) != 0) {
            fprintf(stderr, "encrypt: %s\n", cc_errmsg());
            failed = 1;
        } else if (status != 0) {
            fprintf(stderr, "encrypt: openssl exited %d\n", status);
            failed = 1;
        } else {
            print_tail_repr(stdout, out, cc_blob_len(out), 10);
        }
        cc_blob_free(out);
    }
    for (int i = 0; i < N_CHILDREN; i++)
        cc_popen_free(procs[i]);
    return failed ? EXIT_FAILURE : 0;
}
