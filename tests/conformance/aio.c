/*
 * aio.c - two AIO contexts (io_setup) with completed events not yet reaped.
 *
 * Sets up, before READY:
 *   fd 5    a memfd of FILE_SIZE bytes, byte i holding pattern(i)
 *   ctx A   io_setup(32): 10 reads of 8 bytes from fd 5 submitted, 3 of
 *           their events reaped: head 3, tail 10, 7 events in the ring
 *   ctx B   io_setup(1): requests submitted and reaped one by one until
 *           head and tail stand 3 slots before the ring's end, then 6 more
 *           submitted: their events wrap around the end (tail < head)
 *   Every request is a read whose iocb and buffer are static; its
 *   aio_data names it.  Reads of a memfd complete at once.
 *
 * Checks after SIGTERM:
 *   - both rings are still AIO rings at the same addresses ("/[aio]" in
 *     /proc/self/maps), with the same nr, head and tail;
 *   - io_getevents() on each context returns exactly the unreaped events,
 *     in order: aio_data, the iocb's address, res 8; then none;
 *   - the buffers hold what the reads read;
 *   - the contexts take new requests: on each, 2 * nr + 5 writes then
 *     reads, one by one (the ring goes round twice), each event right and
 *     each read giving back what was written; then a batch of 8 submitted
 *     at once and reaped at once;
 *   - io_destroy() of both succeeds.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "stasis_test.h"

#define MEM_FD		5
#define FILE_SIZE	4096
#define READ_LEN	8
#define A_SUBMIT	10
#define A_REAP		3
#define B_BEFORE_END	3
#define B_SUBMIT	6
#define BATCH		8
#define MAX_REQS	16

/* The kernel's ring header (fs/aio.c, struct aio_ring); events follow. */
struct ring_hdr {
	unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
};

struct ctx {
	const char *name;
	aio_context_t id;
	unsigned nr, head, tail;
	unsigned first, nr_pending;	/* the unreaped events: requests first.. */
	unsigned tag;			/* aio_data base */
	struct iocb cbs[MAX_REQS];
	char bufs[MAX_REQS][READ_LEN];
};

static struct ctx ctx_a = { .name = "A", .tag = 100 };
static struct ctx ctx_b = { .name = "B", .tag = 1000 };

static unsigned char pattern(unsigned off)
{
	return (unsigned char)(off * 7 + 3);
}

static long io_setup(unsigned nr, aio_context_t *id)
{
	return syscall(SYS_io_setup, nr, id);
}

static long io_submit(aio_context_t id, long n, struct iocb **cbs)
{
	return syscall(SYS_io_submit, id, n, cbs);
}

static long io_getevents(aio_context_t id, long min, long n, struct io_event *ev)
{
	struct timespec ts = { 0, 0 };

	return syscall(SYS_io_getevents, id, min, n, ev, &ts);
}

static volatile struct ring_hdr *ring(const struct ctx *c)
{
	return (volatile struct ring_hdr *)c->id;
}

/* Request slot @i of @c: a read of READ_LEN bytes at @i * READ_LEN, or a write. */
static struct iocb *prep(struct ctx *c, unsigned i, int cmd, unsigned tag)
{
	struct iocb *cb = &c->cbs[i % MAX_REQS];

	memset(cb, 0, sizeof(*cb));
	cb->aio_data = tag;
	cb->aio_lio_opcode = cmd;
	cb->aio_fildes = MEM_FD;
	cb->aio_buf = (uintptr_t)c->bufs[i % MAX_REQS];
	cb->aio_nbytes = READ_LEN;
	cb->aio_offset = (i % MAX_REQS) * READ_LEN;
	return cb;
}

static int submit_one(struct ctx *c, unsigned i, int cmd, unsigned tag)
{
	struct iocb *cb = prep(c, i, cmd, tag);

	if (io_submit(c->id, 1, &cb) != 1) {
		fail("ctx %s: io_submit: %m", c->name);
		return -1;
	}
	return 0;
}

/* Reap one event of @c, which must be request @tag's, through iocb slot @i. */
static int reap_one(struct ctx *c, unsigned i, unsigned tag)
{
	struct io_event ev;
	long n = io_getevents(c->id, 1, 1, &ev);

	if (n != 1) {
		fail("ctx %s: io_getevents gave %ld (%m), not the event of request %u",
		     c->name, n, tag);
		return -1;
	}
	if (ev.data != tag || ev.obj != (uintptr_t)&c->cbs[i % MAX_REQS] || ev.res != READ_LEN) {
		fail("ctx %s: event data %llu obj %#llx res %lld, expected %u %p %d", c->name,
		     (unsigned long long)ev.data, (unsigned long long)ev.obj, (long long)ev.res,
		     tag, (void *)&c->cbs[i % MAX_REQS], READ_LEN);
		return -1;
	}
	return 0;
}

static void record(struct ctx *c)
{
	c->nr = ring(c)->nr;
	c->head = ring(c)->head;
	c->tail = ring(c)->tail;
	test_msg("ctx %s at %#lx: nr %u head %u tail %u, %u unreaped", c->name,
		 (unsigned long)c->id, c->nr, c->head, c->tail, c->nr_pending);
}

static int setup_a(struct ctx *c)
{
	if (io_setup(32, &c->id))
		return fail("io_setup A: %m"), -1;
	for (unsigned i = 0; i < A_SUBMIT; i++) {
		if (submit_one(c, i, IOCB_CMD_PREAD, c->tag + i))
			return -1;
	}
	for (unsigned i = 0; i < A_REAP; i++) {
		if (reap_one(c, i, c->tag + i))
			return -1;
	}
	c->first = A_REAP;
	c->nr_pending = A_SUBMIT - A_REAP;
	return 0;
}

static int setup_b(struct ctx *c)
{
	unsigned i, upto;

	if (io_setup(1, &c->id))
		return fail("io_setup B: %m"), -1;
	upto = ring(c)->nr - B_BEFORE_END;
	/* Slot by slot: the same iocb slot for each, the tags count on. */
	for (i = 0; i < upto; i++) {
		if (submit_one(c, 0, IOCB_CMD_PREAD, c->tag) || reap_one(c, 0, c->tag))
			return -1;
	}
	for (i = 0; i < B_SUBMIT; i++) {
		if (submit_one(c, i, IOCB_CMD_PREAD, c->tag + i))
			return -1;
	}
	c->first = 0;
	c->nr_pending = B_SUBMIT;
	if (ring(c)->tail >= ring(c)->head)
		return fail("ctx B: the events do not wrap: head %u tail %u", ring(c)->head,
			    ring(c)->tail), -1;
	return 0;
}

/* Is there an "/[aio]" mapping at @addr in /proc/self/maps? */
static int is_ring(unsigned long addr)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strtoul(line, NULL, 16) == addr) {
			found = strstr(line, "/[aio]") != NULL;
			break;
		}
	}
	fclose(f);
	return found;
}

static int check_header(struct ctx *c)
{
	volatile struct ring_hdr *r = ring(c);

	if (!is_ring(c->id))
		return fail("ctx %s: no AIO ring at %#lx any more", c->name, (unsigned long)c->id), -1;
	if (r->nr != c->nr || r->head != c->head || r->tail != c->tail)
		return fail("ctx %s: nr %u head %u tail %u, was %u %u %u", c->name, r->nr, r->head,
			    r->tail, c->nr, c->head, c->tail), -1;
	return 0;
}

/* The unreaped events, then none; what their reads read. */
static int check_pending(struct ctx *c)
{
	struct io_event ev;

	for (unsigned i = c->first; i < c->first + c->nr_pending; i++) {
		if (reap_one(c, i, c->tag + i))
			return -1;
		for (unsigned k = 0; k < READ_LEN; k++) {
			if ((unsigned char)c->bufs[i][k] != pattern(i * READ_LEN + k))
				return fail("ctx %s: request %u read %#x at %u", c->name, i,
					    (unsigned char)c->bufs[i][k], k), -1;
		}
	}
	if (io_getevents(c->id, 0, 1, &ev) != 0)
		return fail("ctx %s: an event more than the ring held", c->name), -1;
	return 0;
}

/* New requests, one by one round the ring twice, then a batch. */
static int check_new(struct ctx *c)
{
	struct iocb *cbs[BATCH];
	struct io_event ev[BATCH];
	unsigned rounds = 2 * c->nr + 5;

	for (unsigned i = 0; i < rounds; i++) {
		unsigned tag = 50000 + i;

		memset(c->bufs[i % MAX_REQS], (int)(i & 0xff), READ_LEN);
		if (submit_one(c, i, IOCB_CMD_PWRITE, tag) || reap_one(c, i, tag))
			return -1;
		memset(c->bufs[i % MAX_REQS], 0, READ_LEN);
		if (submit_one(c, i, IOCB_CMD_PREAD, tag + 1) || reap_one(c, i, tag + 1))
			return -1;
		if (c->bufs[i % MAX_REQS][0] != (char)(i & 0xff))
			return fail("ctx %s: read back %#x after writing %#x", c->name,
				    (unsigned char)c->bufs[i % MAX_REQS][0], i & 0xff), -1;
	}
	for (unsigned i = 0; i < BATCH; i++)
		cbs[i] = prep(c, i, IOCB_CMD_PREAD, 90000 + i);
	if (io_submit(c->id, BATCH, cbs) != BATCH)
		return fail("ctx %s: a batch of %d: %m", c->name, BATCH), -1;
	if (io_getevents(c->id, BATCH, BATCH, ev) != BATCH)
		return fail("ctx %s: the batch's events: %m", c->name), -1;
	for (unsigned i = 0; i < BATCH; i++) {
		if (ev[i].data != 90000 + i || ev[i].res != READ_LEN)
			return fail("ctx %s: batch event %u: data %llu res %lld", c->name, i,
				    (unsigned long long)ev[i].data, (long long)ev[i].res), -1;
	}
	return 0;
}

static int setup_file(void)
{
	unsigned char data[FILE_SIZE];
	int fd = memfd_create("aio-test", 0);

	for (unsigned i = 0; i < FILE_SIZE; i++)
		data[i] = pattern(i);
	if (fd < 0 || dup2(fd, MEM_FD) != MEM_FD)
		return fail("memfd: %m"), -1;
	if (fd != MEM_FD)
		close(fd);
	if (pwrite(MEM_FD, data, sizeof(data), 0) != sizeof(data))
		return fail("memfd write: %m"), -1;
	return 0;
}

static int check_ctx(struct ctx *c)
{
	if (check_header(c) || check_pending(c) || check_new(c))
		return -1;
	if (syscall(SYS_io_destroy, c->id))
		return fail("ctx %s: io_destroy: %m", c->name), -1;
	return 0;
}

int main(int argc, char **argv)
{
	int bad;

	test_init(argc, argv);
	if (setup_file() || setup_a(&ctx_a) || setup_b(&ctx_b))
		return test_result();
	record(&ctx_a);
	record(&ctx_b);
	test_ready();
	test_waitsig();

	bad = check_ctx(&ctx_a);
	bad |= check_ctx(&ctx_b);
	if (!bad)
		pass();
	return test_result();
}
