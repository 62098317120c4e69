/*
 * encrypt_hash_pipeline - chains of children, like a shell pipeline:
 * three `openssl enc` children encrypt 100 random bytes each, and each
 * one's stdout feeds the stdin of an `openssl dgst` child that hashes
 * what comes through; the last 10 bytes of each hash are printed as
 * Python prints bytes.  Rebuilds the pipeline program of Effective
 * Python, item 67: `encrypt | hash`, three times side by side.
 *
 * CC_STDIO_FROM(encrypt) hands the encrypting child's stdout pipe to the
 * hashing child and closes the parent's copy at once (what the book does
 * by hand with encrypt_proc.stdout.close()), so the hash sees EOF when
 * the encryption ends, a dying hash sends SIGPIPE up the chain, and the
 * parent can never read from the middle of the pipe by mistake.
 *
 * The digest is Whirlpool, as in the book.  OpenSSL 3 moved it to its
 * "legacy" provider, which is not loaded by default (plain -whirlpool
 * fails with "unsupported"); Debian's libssl3 ships that provider
 * (ossl-modules/legacy.so), so dgst loads it by name, with the default
 * provider beside it.  The encryption is that of the encrypt example
 * (des3, PBKDF2, the password in the child's environment).
 */
#include <stdio.h>
#include <stdlib.h>

#include "bytes_repr.h"
#include "concur/subprocess.h"
#include "random_bytes.h"

enum { N_CHAINS = 3, DATA_LEN = 100 };

/* An encrypting child, reading its stdin pipe, writing its stdout pipe. */
static cc_popen *run_encrypt(void)
{
    static const char *const argv[] = {
        "openssl", "enc", "-des3", "-pbkdf2", "-pass", "env:password", NULL};
    static const char *const env_set[] = {
        "password=Vq3mT8xLr0bN2pKs/Ej6yWd+Hc5aZf1U", NULL};
    cc_popen_opts opts = {
        .in = CC_STDIO(CC_PIPE),
        .out = CC_STDIO(CC_PIPE),
        .env_set = env_set,
    };

    return cc_popen_new(argv, &opts);
}

/* A hashing child reading what `upstream` writes. */
static cc_popen *run_hash(cc_popen *upstream)
{
    static const char *const argv[] = {
        "openssl", "dgst", "-whirlpool", "-provider", "legacy",
        "-provider", "default", "-binary", NULL};
    cc_popen_opts opts = {
        .in = CC_STDIO_FROM(upstream), /* our end of the pipe is closed */
        .out = CC_STDIO(CC_PIPE),
    };

    return cc_popen_new(argv, &opts);
}

/* Write `input` to a child, collect its stdout (when `out` is not NULL)
 * and wait for it to end; 0 when it exited with status 0.  `what` names
 * the child in error messages. */
static int finish(cc_popen *proc, const void *input, size_t len, void **out,
                  const char *what, int i)
{
    int status;

    if (cc_popen_communicate(proc, input, len, CC_FOREVER, out, NULL,
                             &status) != 0) {
        fprintf(stderr, "encrypt_hash_pipeline: %s %d: %s\n", what, i,
                cc_errmsg());
        return -1;
    }
    if (status != 0) {
        fprintf(stderr, "encrypt_hash_pipeline: %s %d exited %d\n", what,
                i, status);
        return -1;
    }
    return 0;
}

int main(void)
{
    unsigned char data[N_CHAINS][DATA_LEN];
    cc_popen *encrypt_procs[N_CHAINS] = {NULL};
    cc_popen *hash_procs[N_CHAINS] = {NULL};
    int failed = 0;

    printf("digest: whirlpool (OpenSSL's legacy provider)\n");
    for (int i = 0; i < N_CHAINS && !failed; i++) {
        if (random_bytes(data[i], DATA_LEN) != 0) {
            perror("encrypt_hash_pipeline: getrandom");
            failed = 1;
            break;
        }
        encrypt_procs[i] = run_encrypt();
        if (encrypt_procs[i] != NULL)
            hash_procs[i] = run_hash(encrypt_procs[i]);
        if (encrypt_procs[i] == NULL || hash_procs[i] == NULL) {
            fprintf(stderr, "encrypt_hash_pipeline: %s\n", cc_errmsg());
            failed = 1;
        }
    }
    /* The data flows from child to child by itself; the parent only
     * writes each chain's input and waits.  An encrypting child's stdout
     * now belongs to its hash, so communicate has nothing to read there. */
    for (int i = 0; i < N_CHAINS && !failed; i++) {
        if (finish(encrypt_procs[i], data[i], DATA_LEN, NULL, "encrypt",
                   i) != 0)
            failed = 1;
    }
    for (int i = 0; i < N_CHAINS && !failed; i++) {
        void *out = NULL;

        if (finish(hash_procs[i], NULL, 0, &out, "hash", i) != 0)
            failed = 1;
        else
            print_tail_repr(stdout, out, cc_blob_len(out), 10);
        cc_blob_free(out);
    }
    for (int i = 0; i < N_CHAINS; i++) {
        cc_popen_free(hash_procs[i]);
        cc_popen_free(encrypt_procs[i]);
    }
    return failed ? EXIT_FAILURE : 0;
}
