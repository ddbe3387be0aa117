# bench.mk - the dump and restore benchmark (included from the top Makefile).
#
#   make bench                      stasis alone, 5 dumps and 5 restores of
#                                   each workload
#   make bench REFERENCE=/usr/sbin/criu
#                                   side by side with any tool that speaks
#                                   CRIU's command line
#   BENCH_RUNS=N                    runs per workload and tool (default 5)
#   BENCH_BIG=1                     add the 4 GiB workload (takes long)
#   BENCH_ARGS="..."                anything else for bench/run.sh (--help),
#                                   e.g. --no-restore: dumps alone
#
# The report goes to stdout and bench/results/latest.txt.

BENCH_BINS := $(B)/bench/workload $(B)/bench/measure $(B)/bench/lazy

$(B)/bench/workload: bench/workload.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -pthread -o $@ $<

$(B)/bench/lazy: bench/lazy.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# How soon a restored 1 GiB process runs again, lazy and plain (bench/README.md).
bench-lazy: $(B)/stasis $(B)/bench/lazy
	$(B)/bench/lazy -s $(B)/stasis $(if $(BENCH_RUNS),-r $(BENCH_RUNS))

$(B)/bench/measure: bench/measure.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -pthread -o $@ $<

bench-bins: $(BENCH_BINS)

# Live migration between two network namespaces (bench/migrate.sh).
bench-migrate: all $(B)/tests/migrant $(B)/tests/spawn
	bash bench/migrate.sh $(BENCH_RUNS)

# The page server plain and under --tls, 1 GiB (bench/ps-tls.sh).
bench-tls: all $(B)/bench/workload
	bash bench/ps-tls.sh $(BENCH_RUNS)

BENCH_FLAGS = $(if $(REFERENCE),--reference $(REFERENCE)) \
	      $(if $(BENCH_RUNS),--runs $(BENCH_RUNS)) \
	      $(if $(filter-out 0,$(BENCH_BIG)),--big) $(BENCH_ARGS)

bench: $(B)/stasis $(B)/crit $(BENCH_BINS)
	bash bench/run.sh $(strip $(BENCH_FLAGS))

.PHONY: bench bench-bins bench-lazy bench-migrate bench-tls
