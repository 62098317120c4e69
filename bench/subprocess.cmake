# The subprocess layer's benchmark (included by bench/CMakeLists.txt):
# bench_subprocess, W7, the subprocess workload (spawns of /bin/true in a
# row and from 8 threads, against raw posix_spawn in the same program;
# ten `sleep 1` side by side).  Its peers are bench/peers/py_subprocess.py
# and bench/peers/go_spawn_exec.
if("subprocess" IN_LIST CONCUR_LAYERS)
  concur_bench(bench_subprocess)
endif()
