# tests.mk - the test suite (included from the top Makefile).
#
#   make test         everything, ending with "N passed, N failed"
#   FIXTURES=DIR      CRIU 4.2 fixtures (default ../shared/fixtures/criu-4.2)
#   FUZZ_SECONDS=N    how long each fuzz target runs inside the suite (default 60)
#   make fuzz-long    each fuzz target for FUZZ_LONG_SECONDS (default 600)
#   make soak         SOAK_CYCLES (default 1000) dumps with -R of a few running
#                     programs, which then check that nothing they see changed

FIXTURES	?= $(abspath ../shared/fixtures/criu-4.2)
FUZZ_SECONDS	?= 60

UNIT_TESTS := $(B)/tests/test_fixtures $(B)/tests/test_image $(B)/tests/imgcmp \
	      $(B)/tests/test_vdso

# The vDSO reader is the tool's, and needs only the log from the image library.
$(B)/tests/test_vdso: tests/unit/test_vdso.c $(B)/obj/src/vdso-elf.o $(B)/libstasis-images.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/obj/src/vdso-elf.o $(B)/libstasis-images.a

$(B)/tests/imgcmp: tests/dump/imgcmp.c $(CRIT_LIB_OBJ) $(B)/libstasis-images.a $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(CRIT_LIB_OBJ) $(B)/libstasis-images.a $(LDLIBS)

$(B)/tests/pagecheck: tests/dump/pagecheck.c $(B)/libstasis-images.a $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/libstasis-images.a $(LDLIBS)

$(B)/tests/spawn: tests/dump/spawn.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

$(B)/tests/%: tests/unit/%.c $(CRIT_LIB_OBJ) $(B)/libstasis-images.a $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(CRIT_LIB_OBJ) $(B)/libstasis-images.a $(LDLIBS)

# What tests/pages/migrate.sh moves while it writes its memory.
$(B)/tests/migrant: tests/pages/migrant.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# A whole container for tests/restore/container.sh (it links the conformance library).
$(B)/tests/container: tests/restore/container.c $(CONF_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/lib -o $@ $< $(CONF_LIB_OBJ)

# The machine's own answer to a few check features, and a subreaper runner.
$(B)/tests/check-probe: tests/check-probe.c src/pagemap-scan.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $<

# libcompel's drivers: the stress loop the victims run under, and the page test.
COMPEL_TESTS := $(B)/tests/compel-stress $(B)/tests/compel-pages $(B)/tests/compel-traced

$(B)/tests/compel-%: tests/compel/%.c $(B)/libcompel.a include/stasis/compel.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/libcompel.a

# libsoccr's test: a real connection in each TCP state (tests/soccr/run.sh).
SOCCR_TESTS := $(B)/tests/soccr-states

$(B)/tests/soccr-states: tests/soccr/states.c tests/soccr/conn.c tests/soccr/conn.h \
			 $(B)/libsoccr.a include/stasis/soccr.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ tests/soccr/states.c tests/soccr/conn.c $(B)/libsoccr.a

# The RPC's tests: a client of CRIU's rpc.proto, and a program that counts.
RPC_TESTS := $(B)/tests/rpc-client $(B)/tests/rpc-counter

$(B)/tests/rpc-client: tests/rpc/client.c $(B)/libstasis-images.a $(GEN)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/libstasis-images.a $(LDLIBS)

$(B)/tests/rpc-counter: tests/rpc/counter.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

-include tests/conformance/conformance.mk
-include tests/compel/compel.mk

test-bins: all $(UNIT_TESTS) $(CONF_RUNNER) $(CONF_PROGS) $(FUZZ_BINS) \
	   $(COMPEL_TESTS) $(COMPEL_VICTIMS) $(SOCCR_TESTS) $(B)/tests/spawn \
	   $(B)/tests/pagecheck $(B)/tests/check-probe $(RPC_TESTS) $(B)/tests/migrant \
	   $(B)/tests/container

test: test-bins
	FIXTURES=$(FIXTURES) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/run.sh

FUZZ_LONG_SECONDS ?= 600
SOAK_CYCLES	?= 1000

fuzz-long: test-bins
	bash tests/fuzz.sh $(FUZZ_LONG_SECONDS) $(FIXTURES)

soak: test-bins
	bash tests/soak.sh $(SOAK_CYCLES)

.PHONY: test test-bins fuzz-long soak
