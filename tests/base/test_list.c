/* test_list - the one intrusive list (src/internal/list.h): every
 * operation against a model array, over many random rounds; removal of a
 * node already taken off; splice; the assertions that catch misuse. */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#include "internal/list.h"

typedef struct item {
    int id;
    cc__link link;
} item;

#define N 64

/* The list must hold exactly model[0..n), in order, both ways. */
static void check_against(const cc__list *l, item *const *model, int n)
{
    int i = 0;
    const cc__link *prev = NULL;

    for (const cc__link *it = l->head; it != NULL; it = it->next) {
        assert_true(i < n);
        assert_ptr_equal(CC__CONTAINER_OF(it, item, link), model[i]);
        assert_ptr_equal(it->prev, prev);
        assert_true(cc__link_linked(it));
        prev = it;
        i++;
    }
    assert_int_equal(i, n);
    assert_ptr_equal(l->tail, prev);
    assert_int_equal(cc__list_empty(l), n == 0);
}

static void test_random_operations_match_a_model(void **state)
{
    (void)state;
    item items[N];
    item *model[N];
    int n = 0;
    cc__list l = {NULL, NULL}; /* a zeroed list is a valid empty one */

    for (int i = 0; i < N; i++) {
        items[i].id = i;
        cc__link_init(&items[i].link);
        assert_false(cc__link_linked(&items[i].link));
    }
    for (int round = 0; round < 20000; round++) {
        item *it = &items[tu_rand_below(N)];
        int op = (int)tu_rand_below(5);

        if (!cc__link_linked(&it->link) && op <= 1) {
            if (op == 0) {
                cc__list_push_back(&l, &it->link);
                model[n++] = it;
            } else {
                cc__list_push_front(&l, &it->link);
                memmove(model + 1, model, (size_t)n * sizeof(*model));
                model[0] = it;
                n++;
            }
        } else if (op == 2 || op == 3) {
            /* remove: a no-op for a node on no list */
            bool was = cc__link_linked(&it->link);

            cc__list_remove(&l, &it->link);
            assert_false(cc__link_linked(&it->link));
            if (was) {
                int k = 0;

                while (model[k] != it)
                    k++;
                memmove(model + k, model + k + 1,
                        (size_t)(n - k - 1) * sizeof(*model));
                n--;
            }
        } else {
            cc__link *first = cc__list_pop_front(&l);

            if (n == 0) {
                assert_null(first);
            } else {
                assert_ptr_equal(CC__CONTAINER_OF(first, item, link), model[0]);
                assert_false(cc__link_linked(first));
                memmove(model, model + 1, (size_t)(n - 1) * sizeof(*model));
                n--;
            }
        }
        check_against(&l, model, n);
    }
}

static void test_splice_keeps_order_and_empties_the_source(void **state)
{
    (void)state;
    item items[6];
    item *model[6];
    cc__list a = {NULL, NULL};
    cc__list b = {NULL, NULL};

    for (int i = 0; i < 6; i++) {
        items[i].id = i;
        cc__link_init(&items[i].link);
        cc__list_push_back(i < 2 ? &a : &b, &items[i].link);
        model[i] = &items[i];
    }
    cc__list_splice(&a, &b);
    check_against(&a, model, 6);
    check_against(&b, model, 0);
    cc__list_splice(&a, &b); /* an empty source changes nothing */
    check_against(&a, model, 6);
    cc__list_splice(&b, &a); /* into an empty list */
    check_against(&b, model, 6);
    check_against(&a, model, 0);
    CC__LIST_EACH_SAFE(it, next, &b) /* removing while walking */
        cc__list_remove(&b, it);
    check_against(&b, model, 0);
}

/* Pushing a node that is already on a list would corrupt both: with the
 * assertions on (every test build) it aborts at once, naming the check. */
static void test_pushing_a_linked_node_is_caught(void **state)
{
    (void)state;
#if CC__ASSERTS_ON
    pid_t pid;
    int status;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        item it;
        cc__list l = {NULL, NULL};

        (void)freopen("/dev/null", "w", stderr);
        cc__link_init(&it.link);
        cc__list_push_back(&l, &it.link);
        cc__list_push_back(&l, &it.link); /* aborts */
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_operations_match_a_model),
        cmocka_unit_test(test_splice_keeps_order_and_empties_the_source),
        cmocka_unit_test(test_pushing_a_linked_node_is_caught),
    };
    tu_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
