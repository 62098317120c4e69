# Forks, Process and Pipe (Expert Python ch. 6, multiprocessing): included
# by examples/processes/CMakeLists.txt.

# forks.py: one list of pids, two copies after the fork.
concur_example(forks forks.c)
concur_example_test(forks 30)

# basic_multiprocessing.py: five children print their number and pid.
concur_example(five_processes five_processes.c)
concur_example_test(five_processes 30)

# The Pipe worker: 42, a string, a small struct, then the empty sentinel.
concur_example(pipe_worker pipe_worker.c)
concur_example_test(pipe_worker 30)
