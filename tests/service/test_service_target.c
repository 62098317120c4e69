/* test_service_target - svc_split_target (tools/service/target.c), which
 * splits a request target for both parser backends, against the function
 * it replaces, http-parser's http_parser_parse_url: the same targets
 * taken and refused, the same path and query, over a list of odd targets
 * (absolute forms, userinfo, IPv6 and zones, ports past 65535, fragments,
 * bytes past 0x7f) and 200,000 random ones built from the characters the
 * rules tell apart.  Built only where http-parser is installed. */
#include <http_parser.h>

#include "svc_util.h"
#include "svc_parse.h"

/* Compare the two on t[0..len); false (after a message) when they differ. */
static bool same(const char *t, size_t len)
{
    struct http_parser_url u;
    size_t po, pl, qo, ql;
    bool ours = svc_split_target(t, len, &po, &pl, &qo, &ql);
    bool theirs;

    http_parser_url_init(&u);
    theirs = http_parser_parse_url(t, len, 0, &u) == 0;
    if (ours != theirs) {
        print_error("'%.*s': ours %d, http-parser %d\n", (int)len, t, ours,
                    theirs);
        return false;
    }
    if (!ours)
        return true;
    if ((u.field_set & (1 << UF_PATH) ? u.field_data[UF_PATH].len : 0) !=
            pl ||
        (pl > 0 && u.field_data[UF_PATH].off != po) ||
        (u.field_set & (1 << UF_QUERY) ? u.field_data[UF_QUERY].len : 0) !=
            ql ||
        (ql > 0 && u.field_data[UF_QUERY].off != qo)) {
        print_error("'%.*s': path %zu+%zu query %zu+%zu, http-parser "
                    "%u+%u %u+%u\n", (int)len, t, po, pl, qo, ql,
                    u.field_data[UF_PATH].off, u.field_data[UF_PATH].len,
                    u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
        return false;
    }
    return true;
}

static void test_listed_targets(void **state)
{
    static const char *const targets[] = {
        "/", "*", "/a/b?c=d", "/a?", "/a?#", "/a??b", "/a?b?c#d?e", "/#x",
        "/a#b?c", "/a##", "/%7e\t\f", "/\x80\xff", "/a b", "/a\x7f",
        "a", "http:", "http:/", "http://", "http:///x", "http://h",
        "http://h/", "http://h?q", "http://h/p?q#f", "http://h:80/p",
        "http://h:/p", "http://h:65535/", "http://h:65536/",
        "http://h:0000080/", "http://u@h/", "http://u:p@h:1/",
        "http://@h/", "http://u@/", "http://u@@h/", "http://a@b@c/",
        "http://[::1]/", "http://[::1]:8080/x", "http://[::1", "http://[::1]x/",
        "http://[fe80::1%25eth0]/", "http://[fe80::1%]/", "http://[]/",
        "http://h!/", "http://h#f", "http://h_x.y-z/", "HTTP://H/",
        "h://h", "ht-tp://h/", "http:/h", "//h/p", "?q", "#f", "",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
        assert_true(same(targets[i], strlen(targets[i])));
}

static void test_random_targets(void **state)
{
    static const char alphabet[] = "/?#:@[]%.-_~!*'();&=+$,azAZ09fh \t\f\x7f"
                                   "\x80\x01\"<>";
    static const char *const starts[] = {"", "/", "http://", "http://u@",
                                         "http://[", "*", "a:"};
    char t[32];

    (void)state;
    for (int i = 0; i < 200000; i++) {
        const char *s = starts[tu_rand_below(7)];
        size_t len = strlen(s);
        size_t n = tu_rand_below(12);

        memcpy(t, s, len);
        for (size_t j = 0; j < n; j++)
            t[len++] = alphabet[tu_rand_below(sizeof(alphabet) - 1)];
        assert_true(same(t, len));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed_targets),
        cmocka_unit_test(test_random_targets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
