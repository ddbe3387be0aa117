/*
 * kinds.c - the table of kinds of open file (kind.h).
 *
 * The order is the order of matching: a shmem file is a memfd before it
 * could be taken for a regular file, and a character device is a
 * regular file (/dev/null, /dev/kmsg) before it could be a terminal.
 */
#include "files/kind.h"

const struct fd_kind *const fd_kinds[] = {
	&memfd_fd_kind,
	&reg_fd_kind,
	&tty_fd_kind,
	&pipe_fd_kind,
	&fifo_fd_kind,
	&eventfd_fd_kind,
	&epoll_fd_kind,
	&inotify_fd_kind,
	&fanotify_fd_kind,
	&signalfd_fd_kind,
	&timerfd_fd_kind,
	&nsfile_fd_kind,
	&pidfd_fd_kind,
	&unix_fd_kind,
	&netlink_fd_kind,
	&packet_fd_kind,
	&inet_fd_kind,
	&tun_fd_kind,
};

const size_t nr_fd_kinds = sizeof(fd_kinds) / sizeof(fd_kinds[0]);

const struct fd_kind *fd_kind_by_type(int type)
{
	for (size_t i = 0; i < nr_fd_kinds; i++)
		if (fd_kinds[i]->type == type)
			return fd_kinds[i];
	return NULL;
}
