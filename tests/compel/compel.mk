# tests/compel/compel.mk - victim programs for libcompel's stress test.
# Included from tests/tests.mk after tests/conformance/conformance.mk, whose
# CONF_LIB_OBJ (the test library) they link; uses CC, CPPFLAGS, CFLAGS,
# LDFLAGS and B from the top Makefile.
#
# Each victim tests/compel/NAME.c is a test program for the conformance
# runner, built as $(B)/tests/compel/NAME.  It notices interference with it
# (a register changed, a blocking syscall cut short, a child reaped behind
# its back) and FAILs.  Run one through seizes, infections and cures with
#
#   build/tests/runner --between 'build/tests/compel-stress --loops 1000' \
#           build/tests/compel/NAME
#
# The victims are listed by name: the drivers (stress.c, ...) live in the
# same directory but are built by tests.mk.
#
# avx512.c needs no -mavx512f: only its checking function is built for
# AVX-512, with a target attribute, so nothing runs it on a CPU without.

COMPEL_VICTIM_NAMES	:= avx512 fork_churn futex nanosleep read_pipe stopped \
			   thread_churn zombie
COMPEL_VICTIMS		:= $(addprefix $(B)/tests/compel/,$(COMPEL_VICTIM_NAMES))
COMPEL_VICTIM_OBJ	:= $(patsubst %,$(B)/obj/tests/compel/%.o,$(COMPEL_VICTIM_NAMES))

# As in conformance.mk: no generated code, so no wait for protoc-c.
$(COMPEL_VICTIM_OBJ): CPPFLAGS += -Itests/lib
$(COMPEL_VICTIM_OBJ): $(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(addprefix $(B)/tests/compel/,futex nanosleep read_pipe thread_churn): \
	COMPEL_LDLIBS += -lpthread

$(COMPEL_VICTIMS): $(B)/tests/compel/%: $(B)/obj/tests/compel/%.o $(CONF_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(COMPEL_LDLIBS)

compel-victims: $(COMPEL_VICTIMS)

.PHONY: compel-victims
