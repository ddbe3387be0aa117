/*
 * mem-pagemap.c - pagemap-PID.img read entry by entry (mem-pagemap.h).
 */
#include <errno.h>
#include <fcntl.h>

#include "image.h"
#include "log.h"
#include "mem.h"
#include "mem-check.h"
#include "mem-pagemap.h"

int pagemap_walk(int dirfd, pid_t pid, pagemap_fn fn, void *arg, uint32_t *pages_id,
		 uint64_t *bytes)
{
	PagemapHead *head = NULL;
	PagemapEntry *pe;
	uint64_t off = 0, next = 0;
	struct img *img;
	int ret;

	ret = img_open(&img, dirfd, IMG_PAGEMAP, pid, O_RDONLY);
	if (ret)
		return ret;
	ret = img_read_msg(img, &pagemap_head__descriptor, (ProtobufCMessage **)&head);
	if (ret <= 0) {
		if (!ret)
			pr_err("pagemap-%d.img is empty", pid);
		img_close(img);
		return ret ?: -EINVAL;
	}
	*pages_id = head->pages_id;
	img_free_msg(&head->base);
	while ((ret = img_read_msg(img, &pagemap_entry__descriptor, (ProtobufCMessage **)&pe)) > 0) {
		uint32_t flags = pe->has_flags ? pe->flags : PE_PRESENT;

		ret = mem_check_pagemap_entry(pid, pe, &next) ?: fn(arg, pe, flags, off);
		if (flags & PE_PRESENT)
			off += (uint64_t)pe->nr_pages * PAGE_SZ;
		img_free_msg(&pe->base);
		if (ret < 0)
			break;
	}
	img_close(img);
	if (bytes)
		*bytes = off;
	return ret < 0 ? ret : 0;
}
