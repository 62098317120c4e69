# The http layer (cc_http_*): included by tests/CMakeLists.txt.  Each test
# runs its own HTTP server (http_server.h, on cc_serve) and checks that no
# descriptor leaked.
concur_test(test_http        http/test_http.c        90 LABELS unit http)
