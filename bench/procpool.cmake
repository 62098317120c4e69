# The process pool's benchmark (included by bench/CMakeLists.txt):
# bench_procpool, W4, the process pool workload (tiny tasks through 2 worker
# processes; item 79's gcd pairs).  Its peer is bench/peers/py_procpool.py.
concur_bench(bench_procpool)
