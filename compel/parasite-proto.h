/*
 * parasite-proto.h - the memory the parasite shares with compel.
 *
 * The blob is mapped at P; the layout of the mapping is
 *	[P, P + code)		the blob (code and data, position independent)
 *	[area, area + size)	struct parasite_area, page aligned
 *	[stack, stack + size)	the parasite's stack, growing down from its end
 *
 * One command at a time: compel fills args and cmd, then bumps cmd_seq and
 * wakes it; the parasite runs the command, stores ret, sets done_seq to
 * cmd_seq and wakes that.  Both words are futexes on shared memory.
 */
#ifndef STASIS_PARASITE_PROTO_H
#define STASIS_PARASITE_PROTO_H

#include <stdint.h>

#include "stasis/compel.h"

struct parasite_area {
	uint32_t cmd_seq;
	uint32_t done_seq;
	int32_t cmd;
	int32_t ret;
	union compel_rpc_args args;
};

#define PARASITE_STACK_SIZE	(64 << 10)

#endif
