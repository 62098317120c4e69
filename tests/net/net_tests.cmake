# The net layer (cc_stream, cc_serve): included by tests/CMakeLists.txt.
# Every test checks that no descriptor leaked.
concur_test(test_stream      net/test_stream.c      60 LABELS unit net stress)
