# The process pool's examples (included by CMakeLists.txt here): Item 79's
# gcd pairs and the blog's CPU-bound loop three ways (Expert Python's
# swappable pool, which fetches its rates, is http/pool_swap).  Times are
# printed, never checked; results are.

# Item 79: the slow gcd serially, then on two worker processes (~0.6 s).
concur_example(gcd_processes gcd_processes.c)
concur_example_test(gcd_processes 120)

# The blog's do_math serially, on threads and on processes; the test runs
# a tenth of the 2,000,000 iterations.
concur_example(do_math_processes do_math_processes.c)
concur_example_test(do_math_processes 120 ARGS --iterations 200000)
