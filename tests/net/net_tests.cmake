# The net layer (cc_stream, cc_serve): included by tests/CMakeLists.txt.
# Every test checks that no descriptor leaked.
concur_test(test_stream      net/test_stream.c      60 LABELS unit net stress)
concur_test(test_connect     net/test_connect.c     60 LABELS unit net)
concur_test(test_server      net/test_server.c      90 LABELS unit net stress)
concur_test(test_net_cancel  net/test_net_cancel.c  60 LABELS unit net stress)
