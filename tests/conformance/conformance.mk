# tests/conformance/conformance.mk - the conformance runner and test programs.
# Included from tests/tests.mk; uses CC, CPPFLAGS, CFLAGS, LDFLAGS and B from
# the top Makefile.
#
# Every tests/conformance/*.c but runner.c is one test program, linked with
# tests/lib/stasis_test.c.  A program that needs more libraries adds them with
# a target-specific variable:
#
#   $(B)/tests/conformance/foo: CONF_LDLIBS += -lpthread

CONF_RUNNER	:= $(B)/tests/runner
CONF_SRCS	:= $(filter-out tests/conformance/runner.c, \
			$(sort $(wildcard tests/conformance/*.c)))
CONF_PROGS	:= $(patsubst tests/conformance/%.c,$(B)/tests/conformance/%,$(CONF_SRCS))
CONF_LIB_OBJ	:= $(B)/obj/tests/lib/stasis_test.o
CONF_RUNNER_OBJ	:= $(B)/obj/tests/conformance/runner.o $(B)/obj/tests/lib/runner-util.o \
		   $(B)/obj/tests/lib/runner-opts.o
CONF_MNT_OBJ	:= $(B)/obj/tests/lib/mnt_test.o
CONF_OBJ	:= $(patsubst %.c,$(B)/obj/%.o,$(CONF_SRCS)) $(CONF_RUNNER_OBJ) \
		   $(CONF_LIB_OBJ) $(CONF_MNT_OBJ)

# A static pattern rule of our own: these objects need no generated code,
# so they do not wait for protoc-c like $(B)/obj/%.o does.
$(CONF_OBJ): CPPFLAGS += -Itests/lib
$(CONF_OBJ): $(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(CONF_RUNNER): $(CONF_RUNNER_OBJ) $(CONF_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

$(CONF_PROGS): $(B)/tests/conformance/%: $(B)/obj/tests/conformance/%.o $(CONF_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CONF_LDLIBS)

# The mount namespace tests share their path helpers.
$(B)/tests/conformance/mnt_ns $(B)/tests/conformance/mnt_ns2 $(B)/tests/conformance/user_mnt_ns: \
	$(CONF_MNT_OBJ)

conformance-bins: $(CONF_RUNNER) $(CONF_PROGS)

.PHONY: conformance-bins

# Libraries of the test programs that need more than libc (glibc 2.34 and
# later has them all in libc, earlier ones do not).
$(B)/tests/conformance/threads_tls: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/signals: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/timers: CONF_LDLIBS += -lrt
$(B)/tests/conformance/timer_thread: CONF_LDLIBS += -lrt -lpthread
$(B)/tests/conformance/no_trace: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/busy_threads: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/lazy_mem: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/cgroups: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/seccomp: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/pidns_tree: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/mem_cow: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/poll_timeout: CONF_LDLIBS += -lpthread
$(B)/tests/conformance/mem_fill: CONF_LDLIBS += -lpthread
