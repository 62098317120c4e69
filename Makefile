# Thin wrapper over CMake; see README.md.  Every target first makes sure the
# Debian packages are there (installing them when run as root).
#
#   make              build the library, tests, examples and benchmarks
#                     (with the internal assertions on: a development build)
#   make test         build and run every test (ctest; unit, stress, examples,
#                     the repository checks such as the layering)
#   make test-asan    the same under AddressSanitizer + UBSan (build-asan/)
#   make test-tsan    the same under ThreadSanitizer (build-tsan/)
#   make test-valgrind a representative subset of the tests under valgrind:
#                     memcheck (no error, nothing definitely lost), then
#                     helgrind and DRD (no error); gcc -O1 -g with
#                     CONCUR_VALGRIND=ON, the library's annotations for
#                     valgrind (build-valgrind/, scripts/valgrind.sh)
#   make test-ucontext the coroutine tests with the portable ucontext switch
#   make test-aarch64  the AArch64 switch, cross-built and run under qemu-user
#   make chaos        tests/stress/chaos_process.c for CHAOS_SECONDS (60):
#                     SIGKILL to random pool workers and queue producers
#                     while work flows; nothing may be lost or duplicated
#   make fuzz         each libFuzzer harness (tests/fuzz/) for FUZZ_SECONDS
#                     (default 60) from its seed corpus (build-fuzz/)
#   make fault        the fault-injection campaign (tests/fault/): every
#                     scenario with the library's 1st, 2nd, 3rd... resource
#                     call failing, then with every call from the nth on
#                     failing, under ASan (build-fault/)
#   make demo         the main job: `concur tour`, every seed scenario in
#                     every model, one table of times and speedups
#   make examples-demo run every example program with its timings
#   make bench        run the benchmarks beside their peers (a build without
#                     assertions, build-release/) and write docs/benchmarks.md
#   make docs         the HTML reference and the man pages, made by Doxygen
#                     from the headers (build/docs/html, build/docs/man)
#   make install PREFIX=/usr/local   (from build-release/: no assertions;
#                     the library, headers, the concur command, concur.pc,
#                     the CMake package, man pages and the HTML reference)
#   make clean

BUILD   ?= build
RELEASE ?= build-release
PREFIX  ?= /usr/local
FUZZ_SECONDS ?= 60
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CTEST    = ctest --output-on-failure -j$(JOBS)
# Every build made here treats warnings as errors (a plain cmake does not).
DEV      = -DCONCUR_WERROR=ON

.PHONY: all deps release docs test test-asan test-tsan test-valgrind test-ucontext test-aarch64 chaos fuzz fault demo examples-demo bench install clean

all: deps
	@cmake $(DEV) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/install-deps.sh build

# What users get: the same optimisation as the development build, without
# the internal assertions (CONCUR_ASSERTS, src/internal/assert.h), no tests.
release: deps
	@cmake $(DEV) -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCONCUR_ASSERTS=OFF -DCONCUR_TESTS=OFF -DCONCUR_EXAMPLES=OFF -DCONCUR_DOCS=ON >/dev/null
	@cmake --build $(RELEASE) -j$(JOBS)

docs: deps
	@cmake $(DEV) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONCUR_DOCS=ON >/dev/null
	@cmake --build $(BUILD) --target docs
	@echo "HTML: $(BUILD)/docs/html/index.html"
	@echo "man:  MANPATH=$(BUILD)/docs/man man 3 concur   (or man -l $(BUILD)/docs/man/man3/concur-queue.3)"

test: all
	cd $(BUILD) && $(CTEST)

# Sanitizer builds use clang (its TSan/ASan runtimes are the ones Debian
# keeps current) and their own folders.
test-asan: deps
	@cmake $(DEV) -S . -B build-asan -DCONCUR_SANITIZE=address -DCMAKE_C_COMPILER=clang \
	      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONCUR_BENCH=OFF >/dev/null
	@cmake --build build-asan -j$(JOBS)
	cd build-asan && $(CTEST)

test-tsan: deps
	@cmake $(DEV) -S . -B build-tsan -DCONCUR_SANITIZE=thread -DCMAKE_C_COMPILER=clang \
	      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONCUR_BENCH=OFF >/dev/null
	@cmake --build build-tsan -j$(JOBS)
	cd build-tsan && $(CTEST)

test-valgrind: deps
	@cmake $(DEV) -S . -B build-valgrind -DCONCUR_VALGRIND=ON -DCMAKE_C_COMPILER=gcc \
	      -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
	      -DCONCUR_ASSERTS=ON -DCONCUR_BENCH=OFF -DCONCUR_EXAMPLES=OFF >/dev/null
	@cmake --build build-valgrind -j$(JOBS)
	scripts/valgrind.sh build-valgrind

test-ucontext: deps
	@cmake $(DEV) -S . -B build-ucontext -DCONCUR_UCONTEXT=ON \
	      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONCUR_BENCH=OFF -DCONCUR_EXAMPLES=OFF >/dev/null
	@cmake --build build-ucontext -j$(JOBS)
	cd build-ucontext && $(CTEST) -L aio

test-aarch64:
	tests/cross/check_aarch64.sh

CHAOS_SECONDS ?= 60
chaos: all
	$(BUILD)/tests/chaos_process --seconds $(CHAOS_SECONDS)
# libFuzzer (clang): the harnesses and a library with the coverage hooks,
# under ASan + UBSan; new corpus entries stay in build-fuzz/.
fuzz: deps
	@cmake $(DEV) -S . -B build-fuzz -DCONCUR_FUZZ=ON -DCONCUR_SANITIZE=address \
	      -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCONCUR_TESTS=OFF -DCONCUR_EXAMPLES=OFF -DCONCUR_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_all
	@scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# Fault injection: the library linked with a shim that fails its nth
# malloc, pthread_create, fork, pipe, socket, mmap, epoll_ctl...
fault: deps
	@cmake $(DEV) -S . -B build-fault -DCONCUR_FAULT=ON -DCONCUR_SANITIZE=address \
	      -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCONCUR_TESTS=OFF -DCONCUR_EXAMPLES=OFF -DCONCUR_BENCH=OFF >/dev/null
	@cmake --build build-fault -j$(JOBS) --target fault_driver
	ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
	    build-fault/tests/fault/fault_driver
	ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
	    build-fault/tests/fault/fault_driver --persistent

demo: all
	@scripts/demo.sh $(BUILD)

examples-demo: all
	@scripts/demo.sh --examples $(BUILD)

bench: release
	@scripts/install-deps.sh bench
	@bench/run.sh $(RELEASE)

install: release
	cmake --install $(RELEASE) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(RELEASE) build-asan build-tsan build-valgrind build-clang \
	       build-ucontext build-fuzz build-fault
