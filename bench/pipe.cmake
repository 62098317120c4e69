# The Pipe benchmark (included by bench/CMakeLists.txt): bench_pipe, cc_conn
# between two processes beside a raw socketpair doing the same writes (64-byte
# and 1 MiB messages).  Its peer is bench/peers/py_pipe.py.
concur_bench(bench_pipe)
