# Shared memory and the shared dict (multiprocessing's sharedctypes and
# Manager().dict() in the seeds).  Timings are printed, never checked.

# Expert Python ch. 6: Value('d') and Array('i'), changed by a child.
concur_example(value_array ${CMAKE_CURRENT_LIST_DIR}/value_array.c)
concur_example_test(value_array 30)

# The blog's sponsors_processes.py: 64 children fill one shared dict.
concur_example(sponsors_fanout ${CMAKE_CURRENT_LIST_DIR}/sponsors_fanout.c)
concur_example_test(sponsors_fanout 60)
