# The process pool's examples (included by CMakeLists.txt here): Item 79's
# gcd pairs, the blog's CPU-bound loop three ways, and Expert Python's
# swappable pool.  Times are printed, never checked; results are.

# Item 79: the slow gcd serially, then on two worker processes (~0.6 s).
concur_example(gcd_processes gcd_processes.c)
concur_example_test(gcd_processes 120)

# The blog's do_math serially, on threads and on processes; the test runs
# a tenth of the 2,000,000 iterations.
concur_example(do_math_processes do_math_processes.c)
concur_example_test(do_math_processes 120 ARGS --iterations 200000)

# The same program on either pool, chosen by a flag; both runs print the
# same table.
concur_example(pool_swap pool_swap.c)
concur_example_test(pool_swap 60 NAME pool_swap_threads
  EXPECT pool_swap.expect ARGS --threads)
concur_example_test(pool_swap 60 NAME pool_swap_processes
  EXPECT pool_swap.expect ARGS --processes)
