# The http layer (cc_http_*): included by tests/CMakeLists.txt.  Each test
# runs its own HTTP server (http_server.h, on cc_serve) and checks that no
# descriptor leaked.
concur_test(test_http        http/test_http.c        90 LABELS unit http)
concur_test(test_http_loop   http/test_http_loop.c   120 LABELS unit http stress)
# TLS verification against openssl s_server with a self-signed certificate
# (the openssl command is in the build dependencies).
concur_test(test_http_tls    http/test_http_tls.c    120 LABELS unit http)
