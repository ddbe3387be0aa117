/*
 * ps-proto.h - CRIU's page server protocol, the facts of the wire
 * (criu/page-xfer.c): each command is one fixed-size header, little
 * endian, sometimes followed by page bytes or answered.
 *
 *   OPEN2 (dst_id)            -> 1 byte: the server has parent images
 *   PARENT (dst_id)           -> int32: the same question, alone
 *   ADD_F|flags<<16 (nr, vaddr, dst_id), then nr pages if PE_PRESENT
 *   ADD (old: PE_PRESENT), HOLE (old: PE_PARENT), OPEN (old: no answer)
 *   GET (nr, vaddr, dst_id)   -> ADD_F header with the nr found (0: none),
 *                                then the pages (lazy restore)
 *   CLOSE, FORCE_CLOSE        -> int32 0: everything is written
 *
 * dst_id is the pagemap's id shifted left 8 bits, or'ed with its type
 * (PAGE_XFER_PID, PAGE_XFER_SHMEM).
 */
#ifndef STASIS_PS_PROTO_H
#define STASIS_PS_PROTO_H

#include <stdint.h>

#define PS_IOV_ADD		1
#define PS_IOV_HOLE		2
#define PS_IOV_OPEN		3
#define PS_IOV_OPEN2		4
#define PS_IOV_PARENT		5
#define PS_IOV_ADD_F		6
#define PS_IOV_GET		7
#define PS_IOV_CLOSE		0x1023
#define PS_IOV_FORCE_CLOSE	0x1024

#define PS_CMD_BITS		16
#define PS_CMD_MASK		((1u << PS_CMD_BITS) - 1)
#define PS_TYPE_BITS		8
#define PS_TYPE_MASK		((1u << PS_TYPE_BITS) - 1)

/* CRIU's struct page_server_iov as x86_64 lays it out: 4 bytes of padding after cmd. */
struct ps_iov {
	uint32_t cmd;
	uint32_t pad;
	uint64_t nr_pages;
	uint64_t vaddr;
	uint64_t dst_id;
};

_Static_assert(sizeof(struct ps_iov) == 32, "CRIU's page_server_iov is 32 bytes");

static inline uint64_t ps_dst_id(int type, uint64_t id)
{
	return id << PS_TYPE_BITS | (uint64_t)type;
}

#endif
