/*
 * imgdesc.c - every image stasis knows: its name, file name, magic, and
 * the message its entries hold.  Names and magics are CRIU's.
 */
#include <string.h>

#include "image.h"

#include "apparmor.pb-c.h"
#include "autofs.pb-c.h"
#include "binfmt-misc.pb-c.h"
#include "bpfmap-data.pb-c.h"
#include "bpfmap-file.pb-c.h"
#include "cgroup.pb-c.h"
#include "core.pb-c.h"
#include "cpuinfo.pb-c.h"
#include "creds.pb-c.h"
#include "eventfd.pb-c.h"
#include "eventpoll.pb-c.h"
#include "ext-file.pb-c.h"
#include "fdinfo.pb-c.h"
#include "fh.pb-c.h"
#include "fifo.pb-c.h"
#include "file-lock.pb-c.h"
#include "fs.pb-c.h"
#include "fsnotify.pb-c.h"
#include "ghost-file.pb-c.h"
#include "inventory.pb-c.h"
#include "ipc-msg.pb-c.h"
#include "ipc-sem.pb-c.h"
#include "ipc-shm.pb-c.h"
#include "ipc-var.pb-c.h"
#include "memfd.pb-c.h"
#include "mm.pb-c.h"
#include "mnt.pb-c.h"
#include "netdev.pb-c.h"
#include "ns.pb-c.h"
#include "packet-sock.pb-c.h"
#include "pagemap.pb-c.h"
#include "pidfd.pb-c.h"
#include "pidns.pb-c.h"
#include "pipe-data.pb-c.h"
#include "pipe.pb-c.h"
#include "pstree.pb-c.h"
#include "regfile.pb-c.h"
#include "remap-file-path.pb-c.h"
#include "rlimit.pb-c.h"
#include "sa.pb-c.h"
#include "seccomp.pb-c.h"
#include "siginfo.pb-c.h"
#include "signalfd.pb-c.h"
#include "sk-inet.pb-c.h"
#include "sk-netlink.pb-c.h"
#include "sk-packet.pb-c.h"
#include "sk-unix.pb-c.h"
#include "stats.pb-c.h"
#include "tcp-stream.pb-c.h"
#include "timens.pb-c.h"
#include "timer.pb-c.h"
#include "timerfd.pb-c.h"
#include "tty.pb-c.h"
#include "tun.pb-c.h"
#include "userns.pb-c.h"
#include "utsns.pb-c.h"
#include "vma.pb-c.h"

#define C IMG_COMMON_MAGIC
#define S IMG_SERVICE_MAGIC

static const struct img_desc img_descs[IMG_TYPE_NR] = {
	[IMG_INVENTORY]	= { "INVENTORY", "inventory.img", INVENTORY_MAGIC, 0, &inventory_entry__descriptor },
	[IMG_PSTREE]	= { "PSTREE", "pstree.img", PSTREE_MAGIC, C, &pstree_entry__descriptor },
	[IMG_CORE]	= { "CORE", "core-%lu.img", CORE_MAGIC, C, &core_entry__descriptor },
	[IMG_IDS]	= { "IDS", "ids-%lu.img", IDS_MAGIC, C, &task_kobj_ids_entry__descriptor },
	[IMG_MM]	= { "MM", "mm-%lu.img", MM_MAGIC, C, &mm_entry__descriptor },
	[IMG_VMAS]	= { "VMAS", "vmas-%lu.img", VMAS_MAGIC, C, &vma_entry__descriptor },
	[IMG_PAGEMAP]	= { "PAGEMAP", "pagemap-%lu.img", PAGEMAP_MAGIC, C,
			    &pagemap_entry__descriptor, &pagemap_head__descriptor },
	/* Shared-memory pagemaps use the same magic; crit calls them PAGEMAP. */
	[IMG_SHMEM_PAGEMAP] = { "PAGEMAP", "pagemap-shmem-%lu.img", PAGEMAP_MAGIC, C,
			    &pagemap_entry__descriptor, &pagemap_head__descriptor },
	[IMG_PAGES]	= { "PAGES", "pages-%lu.img", RAW_IMAGE_MAGIC, 0, NULL },
	[IMG_FDINFO]	= { "FDINFO", "fdinfo-%lu.img", FDINFO_MAGIC, C, &fdinfo_entry__descriptor },
	[IMG_FILES]	= { "FILES", "files.img", FILES_MAGIC, C, &file_entry__descriptor },
	[IMG_REG_FILES]	= { "REG_FILES", "reg-files.img", REG_FILES_MAGIC, C, &reg_file_entry__descriptor },
	[IMG_EXT_FILES]	= { "EXT_FILES", "ext-files.img", EXT_FILES_MAGIC, C, &ext_file_entry__descriptor },
	[IMG_NS_FILES]	= { "NS_FILES", "ns-files.img", NS_FILES_MAGIC, C, &ns_file_entry__descriptor },
	[IMG_REMAP_FPATH] = { "REMAP_FPATH", "remap-fpath.img", REMAP_FPATH_MAGIC, C,
			    &remap_file_path_entry__descriptor },
	[IMG_GHOST_FILE] = { "GHOST_FILE", "ghost-file-%lx.img", GHOST_FILE_MAGIC, C,
			    &ghost_chunk_entry__descriptor, &ghost_file_entry__descriptor, EXTRA_GHOST },
	[IMG_PIPES]	= { "PIPES", "pipes.img", PIPES_MAGIC, C, &pipe_entry__descriptor },
	[IMG_PIPES_DATA] = { "PIPES_DATA", "pipes-data.img", PIPES_DATA_MAGIC, C,
			    &pipe_data_entry__descriptor, NULL, EXTRA_PIPE_DATA },
	[IMG_FIFO]	= { "FIFO", "fifo.img", FIFO_MAGIC, C, &fifo_entry__descriptor },
	[IMG_FIFO_DATA]	= { "FIFO_DATA", "fifo-data.img", FIFO_DATA_MAGIC, C,
			    &pipe_data_entry__descriptor, NULL, EXTRA_PIPE_DATA },
	[IMG_TTY_FILES]	= { "TTY_FILES", "tty.img", TTY_FILES_MAGIC, C, &tty_file_entry__descriptor },
	[IMG_TTY_INFO]	= { "TTY_INFO", "tty-info.img", TTY_INFO_MAGIC, C, &tty_info_entry__descriptor },
	[IMG_TTY_DATA]	= { "TTY_DATA", "tty-data.img", TTY_DATA_MAGIC, C, &tty_data_entry__descriptor },
	[IMG_MEMFD_INODE] = { "MEMFD_INODE", "memfd.img", MEMFD_INODE_MAGIC, C,
			    &memfd_inode_entry__descriptor },
	[IMG_EVENTFD_FILE] = { "EVENTFD_FILE", "eventfd.img", EVENTFD_FILE_MAGIC, C,
			    &eventfd_file_entry__descriptor },
	[IMG_EVENTPOLL_FILE] = { "EVENTPOLL_FILE", "eventpoll.img", EVENTPOLL_FILE_MAGIC, C,
			    &eventpoll_file_entry__descriptor },
	[IMG_EVENTPOLL_TFD] = { "EVENTPOLL_TFD", "eventpoll-tfd.img", EVENTPOLL_TFD_MAGIC, C,
			    &eventpoll_tfd_entry__descriptor },
	[IMG_SIGNALFD]	= { "SIGNALFD", "signalfd.img", SIGNALFD_MAGIC, C, &signalfd_entry__descriptor },
	[IMG_TIMERFD]	= { "TIMERFD", "timerfd.img", TIMERFD_MAGIC, C, &timerfd_entry__descriptor },
	[IMG_INOTIFY_FILE] = { "INOTIFY_FILE", "inotify.img", INOTIFY_FILE_MAGIC, C,
			    &inotify_file_entry__descriptor },
	[IMG_INOTIFY_WD] = { "INOTIFY_WD", "inotify-wd.img", INOTIFY_WD_MAGIC, C,
			    &inotify_wd_entry__descriptor },
	[IMG_FANOTIFY_FILE] = { "FANOTIFY_FILE", "fanotify.img", FANOTIFY_FILE_MAGIC, C,
			    &fanotify_file_entry__descriptor },
	[IMG_FANOTIFY_MARK] = { "FANOTIFY_MARK", "fanotify-mark.img", FANOTIFY_MARK_MAGIC, C,
			    &fanotify_mark_entry__descriptor },
	[IMG_UNIXSK]	= { "UNIXSK", "unixsk.img", UNIXSK_MAGIC, C, &unix_sk_entry__descriptor },
	[IMG_INETSK]	= { "INETSK", "inetsk.img", INETSK_MAGIC, C, &inet_sk_entry__descriptor },
	[IMG_PACKETSK]	= { "PACKETSK", "packetsk.img", PACKETSK_MAGIC, C, &packet_sock_entry__descriptor },
	[IMG_NETLINK_SK] = { "NETLINK_SK", "netlinksk.img", NETLINK_SK_MAGIC, C,
			    &netlink_sk_entry__descriptor },
	[IMG_SK_QUEUES]	= { "SK_QUEUES", "sk-queues.img", SK_QUEUES_MAGIC, C,
			    &sk_packet_entry__descriptor, NULL, EXTRA_SK_QUEUE },
	[IMG_TCP_STREAM] = { "TCP_STREAM", "tcp-stream-%lx.img", TCP_STREAM_MAGIC, C,
			    &tcp_stream_entry__descriptor, NULL, EXTRA_TCP_STREAM },
	[IMG_TUNFILE]	= { "TUNFILE", "tunfile.img", TUNFILE_MAGIC, C, &tunfile_entry__descriptor },
	[IMG_FILE_LOCKS] = { "FILE_LOCKS", "filelocks.img", FILE_LOCKS_MAGIC, C,
			    &file_lock_entry__descriptor },
	[IMG_PIDFD]	= { "PIDFD", "pidfd.img", PIDFD_MAGIC, C, &pidfd_entry__descriptor },
	[IMG_BPFMAP_FILE] = { "BPFMAP_FILE", "bpfmap-file.img", BPFMAP_FILE_MAGIC, C,
			    &bpfmap_file_entry__descriptor },
	[IMG_BPFMAP_DATA] = { "BPFMAP_DATA", "bpfmap-data.img", BPFMAP_DATA_MAGIC, C,
			    &bpfmap_data_entry__descriptor, NULL, EXTRA_BPFMAP_DATA },
	[IMG_FS]	= { "FS", "fs-%lu.img", FS_MAGIC, C, &fs_entry__descriptor },
	[IMG_CREDS]	= { "CREDS", "creds-%lu.img", CREDS_MAGIC, C, &creds_entry__descriptor },
	[IMG_SIGACT]	= { "SIGACT", "sigacts-%lu.img", SIGACT_MAGIC, C, &sa_entry__descriptor },
	[IMG_ITIMERS]	= { "ITIMERS", "itimers-%lu.img", ITIMERS_MAGIC, C, &itimer_entry__descriptor },
	[IMG_POSIX_TIMERS] = { "POSIX_TIMERS", "posix-timers-%lu.img", POSIX_TIMERS_MAGIC, C,
			    &posix_timer_entry__descriptor },
	[IMG_RLIMIT]	= { "RLIMIT", "rlimit-%lu.img", RLIMIT_MAGIC, C, &rlimit_entry__descriptor },
	[IMG_SIGNAL]	= { "SIGNAL", "signal-s-%lu.img", SIGNAL_MAGIC, C, &siginfo_entry__descriptor },
	[IMG_PSIGNAL]	= { "SIGNAL", "signal-p-%lu.img", SIGNAL_MAGIC, C, &siginfo_entry__descriptor },
	[IMG_SECCOMP]	= { "SECCOMP", "seccomp.img", SECCOMP_MAGIC, C, &seccomp_entry__descriptor },
	[IMG_TIMENS]	= { "TIMENS", "timens-%lu.img", TIMENS_MAGIC, C, &timens_entry__descriptor },
	[IMG_PIDNS]	= { "PIDNS", "pidns-%lu.img", PIDNS_MAGIC, C, &pidns_entry__descriptor },
	[IMG_UTSNS]	= { "UTSNS", "utsns-%lu.img", UTSNS_MAGIC, C, &utsns_entry__descriptor },
	[IMG_USERNS]	= { "USERNS", "userns-%lu.img", USERNS_MAGIC, C, &userns_entry__descriptor },
	[IMG_IPC_VAR]	= { "IPC_VAR", "ipcns-var-%lu.img", IPC_VAR_MAGIC, C, &ipc_var_entry__descriptor },
	[IMG_IPCNS_SHM]	= { "IPCNS_SHM", "ipcns-shm-%lu.img", IPCNS_SHM_MAGIC, C,
			    &ipc_shm_entry__descriptor, NULL, EXTRA_IPC_SHM },
	[IMG_IPCNS_MSG]	= { "IPCNS_MSG", "ipcns-msg-%lu.img", IPCNS_MSG_MAGIC, C,
			    &ipc_msg_entry__descriptor, NULL, EXTRA_IPC_MSG },
	[IMG_IPCNS_SEM]	= { "IPCNS_SEM", "ipcns-sem-%lu.img", IPCNS_SEM_MAGIC, C,
			    &ipc_sem_entry__descriptor, NULL, EXTRA_IPC_SEM },
	[IMG_MNTS]	= { "MNTS", "mountpoints-%lu.img", MNTS_MAGIC, C, &mnt_entry__descriptor },
	[IMG_NETDEV]	= { "NETDEV", "netdev-%lu.img", NETDEV_MAGIC, C, &net_device_entry__descriptor },
	[IMG_NETNS]	= { "NETNS", "netns-%lu.img", NETNS_MAGIC, C, &netns_entry__descriptor },
	[IMG_CGROUP]	= { "CGROUP", "cgroup.img", CGROUP_MAGIC, C, &cgroup_entry__descriptor },
	[IMG_CPUINFO]	= { "CPUINFO", "cpuinfo.img", CPUINFO_MAGIC, C, &cpuinfo_entry__descriptor },
	[IMG_BINFMT_MISC] = { "BINFMT_MISC", "binfmt-misc.img", BINFMT_MISC_MAGIC, C,
			    &binfmt_misc_entry__descriptor },
	[IMG_AUTOFS]	= { "AUTOFS", "autofs-%lu.img", AUTOFS_MAGIC, C, &autofs_entry__descriptor },
	[IMG_APPARMOR]	= { "APPARMOR", "apparmor.img", APPARMOR_MAGIC, C, &apparmor_entry__descriptor },
	[IMG_IRMAP_CACHE] = { "IRMAP_CACHE", "irmap-cache", IRMAP_CACHE_MAGIC, S,
			    &irmap_cache_entry__descriptor },
	[IMG_STATS_DUMP] = { "STATS", "stats-dump", STATS_MAGIC, S, &stats_entry__descriptor },
	[IMG_STATS_RESTORE] = { "STATS", "stats-restore", STATS_MAGIC, S, &stats_entry__descriptor },
};

const struct img_desc *img_desc_of(enum img_type type)
{
	return &img_descs[type];
}

/* The first image with this magic is the one crit names; later ones share it. */
const struct img_desc *img_desc_by_magic(uint32_t magic)
{
	if (magic == RAW_IMAGE_MAGIC)
		return NULL;
	for (int i = 0; i < IMG_TYPE_NR; i++)
		if (img_descs[i].magic == magic)
			return &img_descs[i];
	return NULL;
}

const struct img_desc *img_desc_by_name(const char *name)
{
	for (int i = 0; i < IMG_TYPE_NR; i++)
		if (!strcmp(img_descs[i].name, name))
			return &img_descs[i];
	return NULL;
}
