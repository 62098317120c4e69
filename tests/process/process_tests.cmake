# Process (forked and spawned), fork safety and Pipe (cc_process, cc_conn):
# included by tests/CMakeLists.txt.  Children are joined by every test; a
# test that hangs fails at its TIMEOUT.
concur_test(test_process     process/test_process.c     120 LABELS unit stress)
concur_test(test_pipe        process/test_pipe.c        180 LABELS unit stress)
concur_test(test_fork_safety process/test_fork_safety.c 240 LABELS stress)
concur_test(test_process_spawn process/test_process_spawn.c 180 LABELS unit stress)
