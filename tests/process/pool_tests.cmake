# The process pool (src/process/pool*.c, fnref.c, wire.c, errcodec.c):
# included by tests/CMakeLists.txt.  Workers are fresh runs of the test
# executable itself, so every test here also exercises the start-up hook.
concur_test(test_process_pool process/test_process_pool.c 240
            LABELS unit stress process)
