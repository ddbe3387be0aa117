/*
 * ipc.c - an IPC namespace: its SysV shared memory segments (contents in
 * pagemap-shmem-ID.img, keyed by the segment's id, as CRIU), semaphore
 * sets with their values, message queues with their messages, and its
 * sysctls (ipcns-var-ID.img, ipcns-shm/sem/msg-ID.img).
 *
 * Both halves run inside the namespace: the dump with stasis moved into
 * it (ns.c), the restore in the new root.  An object gets its id back by
 * writing it to kernel/{shm,sem,msg}_next_id just before it is created.
 * The sysctls go back first (an object may need the limits its namespace
 * had: a segment over the default shmmax, a queue over the default
 * msgmnb, whose raise would need CAP_SYS_RESOURCE), the *_next_id values
 * the dump saw last (creating the objects consumes them).
 *
 * POSIX message queues (mqueue) of the namespace are not dumped yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "dump.h"
#include "ipc-msg.pb-c.h"
#include "ipc-sem.pb-c.h"
#include "ipc-shm.pb-c.h"
#include "ipc-var.pb-c.h"
#include "log.h"
#include "mem-hugetlb.h"
#include "ns/ns.h"
#include "proc.h"
#include "restore.h"
#include "shmem.h"

#ifndef MSG_COPY
#define MSG_COPY	040000
#endif
#ifndef SHM_HUGE_SHIFT
#define SHM_HUGE_SHIFT	26
#endif

#define ROUND8(x)	(((x) + 7) & ~(uint64_t)7)
#define MAX_MSG		(64u << 20)	/* a message larger is a bad image */
#define MAX_NSEMS	65535u		/* semaphore values are u16s */

/* --- /proc/sys --- */

/* Up to @n numbers from /proc/sys/@name; 0, or -errno (ENOENT said by the caller). */
static int sysctl_read(const char *name, uint64_t *v, size_t n)
{
	char buf[256], *p = buf, *end;
	int len = proc_sys_read(name, buf, sizeof(buf));

	if (len < 0)
		return len;
	for (size_t i = 0; i < n; i++, p = end) {
		/* A *_next_id reads -1 when unset: strtoull gives it as all ones. */
		v[i] = strtoull(p, &end, 10);
		if (end == p) {
			pr_err("/proc/sys/%s: %zu numbers expected in \"%s\"", name, n, buf);
			return -EINVAL;
		}
	}
	return 0;
}

static int sysctl_write(const char *name, const uint64_t *v, size_t n)
{
	char buf[256];
	size_t len = 0;
	int ret;

	for (size_t i = 0; i < n; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%" PRIu64, i ? " " : "", v[i]);
	ret = proc_sys_write(name, buf);
	if (ret)
		pr_err("cannot write \"%s\" to /proc/sys/%s: %s", buf, name, strerror(-ret));
	return ret;
}

static int sysctl_write1(const char *name, uint64_t v)
{
	return sysctl_write(name, &v, 1);
}

/* --- the sysctls --- */

/* The nine every kernel has, as fields of IpcVarEntry. */
#define VAR(n, f)	{ n, offsetof(IpcVarEntry, f), sizeof(((IpcVarEntry *)0)->f), 0 }
#define OPT(n, f)	{ n, offsetof(IpcVarEntry, f), sizeof(((IpcVarEntry *)0)->f), \
			  offsetof(IpcVarEntry, has_##f) }
static const struct ipc_sysctl {
	const char *name;
	size_t off, size, has;	/* has: 0 for a required field */
} ipc_sysctls[] = {
	VAR("kernel/msgmax", msg_ctlmax), VAR("kernel/msgmnb", msg_ctlmnb),
	VAR("kernel/auto_msgmni", auto_msgmni), VAR("kernel/msgmni", msg_ctlmni),
	VAR("kernel/shmmax", shm_ctlmax), VAR("kernel/shmall", shm_ctlall),
	VAR("kernel/shmmni", shm_ctlmni), VAR("kernel/shm_rmid_forced", shm_rmid_forced),
	VAR("fs/mqueue/queues_max", mq_queues_max), VAR("fs/mqueue/msg_max", mq_msg_max),
	VAR("fs/mqueue/msgsize_max", mq_msgsize_max),
	OPT("fs/mqueue/msg_default", mq_msg_default),
	OPT("fs/mqueue/msgsize_default", mq_msgsize_default),
	OPT("kernel/msg_next_id", msg_next_id), OPT("kernel/sem_next_id", sem_next_id),
	OPT("kernel/shm_next_id", shm_next_id),
};
#undef VAR
#undef OPT
#define NR_SYSCTLS	(sizeof(ipc_sysctls) / sizeof(ipc_sysctls[0]))
#define FIRST_NEXT_ID	13	/* ipc_sysctls[13..]: the *_next_id ones */

static uint64_t var_get(const IpcVarEntry *e, const struct ipc_sysctl *s)
{
	const char *p = (const char *)e + s->off;

	return s->size == 8 ? *(const uint64_t *)p : *(const uint32_t *)p;
}

static void var_set(IpcVarEntry *e, const struct ipc_sysctl *s, uint64_t v)
{
	char *p = (char *)e + s->off;

	if (s->size == 8)
		*(uint64_t *)p = v;
	else
		*(uint32_t *)p = v;
	if (s->has)
		*(protobuf_c_boolean *)((char *)e + s->has) = 1;
}

static bool var_has(const IpcVarEntry *e, const struct ipc_sysctl *s)
{
	return !s->has || *(const protobuf_c_boolean *)((const char *)e + s->has);
}

static int dump_var(struct dump_ctx *ctx, uint32_t id)
{
	uint64_t sem[4];
	uint32_t sem32[4];
	IpcVarEntry e;
	int ret;

	ipc_var_entry__init(&e);
	ret = sysctl_read("kernel/sem", sem, 4);
	if (ret) {
		pr_err("ipc namespace %u: cannot read kernel/sem: %s", id, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < 4; i++)
		sem32[i] = sem[i];
	e.n_sem_ctls = 4;
	e.sem_ctls = sem32;
	for (size_t i = 0; i < NR_SYSCTLS; i++) {
		const struct ipc_sysctl *s = &ipc_sysctls[i];
		uint64_t v;

		ret = sysctl_read(s->name, &v, 1);
		if (ret == -ENOENT)
			continue;	/* a kernel without it (mqueue, auto_msgmni) */
		if (ret) {
			pr_err("ipc namespace %u: cannot read /proc/sys/%s: %s", id, s->name,
			       strerror(-ret));
			return ret;
		}
		/* -1: never set; it cannot be written back. */
		if (i >= FIRST_NEXT_ID && (int64_t)v < 0)
			continue;
		var_set(&e, s, v);
	}
	return img_write_one(ctx->dirfd, IMG_IPC_VAR, id, &e.base);
}

/* The sysctls @first..@last-1 of @e that it has; kernel/sem with the first group. */
static int restore_var(const IpcVarEntry *e, size_t first, size_t last)
{
	int ret = 0;

	if (!first && e->n_sem_ctls == 4) {
		uint64_t sem[4];

		for (size_t i = 0; i < 4; i++)
			sem[i] = e->sem_ctls[i];
		ret = sysctl_write("kernel/sem", sem, 4);
	}
	for (size_t i = first; !ret && i < last; i++) {
		const struct ipc_sysctl *s = &ipc_sysctls[i];

		if (!var_has(e, s))
			continue;
		/* auto_msgmni is gone from new kernels, mqueue's with CONFIG_POSIX_MQUEUE. */
		if (!strncmp(s->name, "fs/mqueue/", 10) &&
		    (access("/proc/sys/fs/mqueue", F_OK) || !var_get(e, s)))
			continue;	/* 0: a dump made without them */
		if (!strcmp(s->name, "kernel/auto_msgmni") && access("/proc/sys/kernel/auto_msgmni", F_OK))
			continue;
		ret = sysctl_write1(s->name, var_get(e, s));
	}
	return ret;
}

/* --- objects --- */

static void fill_desc(IpcDescEntry *d, int id, const struct ipc_perm *p)
{
	ipc_desc_entry__init(d);
	d->key = p->__key;
	d->uid = userns_dump_uid(p->uid);
	d->gid = userns_dump_gid(p->gid);
	d->cuid = userns_dump_uid(p->cuid);
	d->cgid = userns_dump_gid(p->cgid);
	d->mode = p->mode;
	d->id = id;
}

/* The owner and mode of @d onto @p, for IPC_SET (the creator stays ours). */
static void perm_from_desc(struct ipc_perm *p, const IpcDescEntry *d)
{
	p->uid = userns_host_uid(d->uid);
	p->gid = userns_host_gid(d->gid);
	p->mode = d->mode & 0777;
}

/* The next object of this kind gets id @id. */
static int next_id(const char *kind, const IpcDescEntry *d)
{
	char name[32];

	snprintf(name, sizeof(name), "kernel/%s_next_id", kind);
	return sysctl_write1(name, d->id);
}

/* Did the object come back with its id? */
static int check_id(const char *kind, int got, const IpcDescEntry *d)
{
	if (got < 0) {
		pr_perror("SysV %s %u (key %#x): cannot create it", kind, d->id, d->key);
		return -errno;
	}
	if ((uint32_t)got != d->id) {
		pr_err("SysV %s %u came back as %d", kind, d->id, got);
		return -EEXIST;
	}
	return 0;
}

/* shm */

static int shm_hugetlb_flag(void *addr, size_t size, uint32_t *flag)
{
	char path[96];
	struct statfs sfs;
	struct stat st;
	int shift;

	size = (size + 4095) & ~(size_t)4095;
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)addr,
		 (unsigned long)addr + size);
	if (stat(path, &st) || statfs(path, &sfs)) {
		pr_perror("cannot stat %s", path);
		return -errno;
	}
	*flag = 0;
	if (sfs.f_type != HUGETLBFS_MAGIC)
		return 0;
	shift = hugetlb_size_shift(st.st_blksize);
	if (shift < 0)
		return shift;
	*flag = SHM_HUGETLB | (shift << SHM_HUGE_SHIFT);
	return 0;
}

static int dump_shm_one(struct dump_ctx *ctx, struct img *img, int id, const struct shmid_ds *ds)
{
	IpcShmEntry e;
	IpcDescEntry d;
	uint32_t huge = 0;
	void *addr;
	int ret;

	if (ds->shm_perm.mode & SHM_DEST) {
		pr_err("unsupported: SysV shm %d is removed but still attached", id);
		return -ENOTSUP;
	}
	addr = shmat(id, NULL, SHM_RDONLY);
	if (addr == (void *)-1) {
		pr_perror("SysV shm %d: cannot attach it", id);
		return -errno;
	}
	ipc_shm_entry__init(&e);
	fill_desc(&d, id, &ds->shm_perm);
	e.desc = &d;
	e.size = ds->shm_segsz;
	e.has_in_pagemaps = e.in_pagemaps = 1;
	ret = shm_hugetlb_flag(addr, ds->shm_segsz, &huge);
	if (!ret && huge) {
		e.has_hugetlb_flag = 1;
		e.hugetlb_flag = huge;
	}
	if (!ret)
		ret = img_write_msg(img, &e.base);
	if (!ret)
		ret = shmem_dump_mem(ctx, addr, id, ds->shm_segsz);
	shmdt(addr);
	return ret;
}

static int dump_shm(struct dump_ctx *ctx, struct img *img)
{
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info), ret = 0;

	if (max < 0) {
		pr_perror("shmctl(SHM_INFO)");
		return -errno;
	}
	for (int i = 0; !ret && i <= max; i++) {
		struct shmid_ds ds;
		int id = shmctl(i, SHM_STAT, &ds);

		if (id >= 0)
			ret = dump_shm_one(ctx, img, id, &ds);
	}
	return ret;
}

static int restore_shm_one(struct rst_ctx *ctx, struct img *img, const IpcShmEntry *e)
{
	const IpcDescEntry *d = e->desc;
	int flags = (d->mode & 0777) | IPC_CREAT | IPC_EXCL;
	struct shmid_ds ds;
	void *addr;
	int id, ret;

	if (e->has_hugetlb_flag)
		flags |= e->hugetlb_flag;
	ret = next_id("shm", d);
	if (ret)
		return ret;
	id = shmget(d->key, e->size, flags);
	ret = check_id("shm", id, d);
	if (ret)
		return ret;
	addr = shmat(id, NULL, 0);
	if (addr == (void *)-1) {
		pr_perror("SysV shm %d: cannot attach it", id);
		return -errno;
	}
	if (e->has_in_pagemaps && e->in_pagemaps)
		ret = shmem_restore_mem(ctx, addr, id, e->size);
	else	/* older images: the bytes follow the entry, to 4 bytes */
		ret = img_read_raw(img, addr, (e->size + 3) & ~(uint64_t)3);
	shmdt(addr);
	if (!ret && shmctl(id, IPC_STAT, &ds) == 0) {
		perm_from_desc(&ds.shm_perm, d);
		if (shmctl(id, IPC_SET, &ds))
			ret = -errno;
	}
	if (!ret && (d->mode & SHM_LOCKED) && shmctl(id, SHM_LOCK, NULL))
		ret = -errno;
	if (ret)
		pr_err("SysV shm %d: not restored: %s", id, strerror(-ret));
	return ret;
}

/* sem */

static int dump_sem_one(struct img *img, int id, const struct semid_ds *ds)
{
	size_t n = ds->sem_nsems, len = ROUND8(n * sizeof(uint16_t));
	IpcSemEntry e;
	IpcDescEntry d;
	uint16_t *v;
	int ret;

	v = calloc(1, len ?: 8);
	if (!v)
		return -ENOMEM;
	if (semctl(id, 0, GETALL, v) < 0) {
		pr_perror("SysV sem %d: GETALL", id);
		free(v);
		return -errno;
	}
	ipc_sem_entry__init(&e);
	fill_desc(&d, id, &ds->sem_perm);
	e.desc = &d;
	e.nsems = n;
	ret = img_write_msg(img, &e.base) ?: img_write_raw(img, v, len);
	free(v);
	return ret;
}

static int dump_sem(struct img *img)
{
	struct seminfo info;
	int max = semctl(0, 0, SEM_INFO, &info), ret = 0;

	if (max < 0) {
		pr_perror("semctl(SEM_INFO)");
		return -errno;
	}
	for (int i = 0; !ret && i <= max; i++) {
		struct semid_ds ds;
		int id = semctl(i, 0, SEM_STAT, &ds);

		if (id >= 0)
			ret = dump_sem_one(img, id, &ds);
	}
	return ret;
}

static int restore_sem_one(struct img *img, const IpcSemEntry *e)
{
	const IpcDescEntry *d = e->desc;
	size_t len = ROUND8((size_t)e->nsems * sizeof(uint16_t));
	struct semid_ds ds;
	uint16_t *v;
	int id, ret;

	if (!e->nsems || e->nsems > MAX_NSEMS) {
		pr_err("ipcns-sem: set %u has %u semaphores", d->id, e->nsems);
		return -EINVAL;
	}
	v = malloc(len);
	if (!v)
		return -ENOMEM;
	ret = img_read_raw(img, v, len) ?: next_id("sem", d);
	if (!ret) {
		id = semget(d->key, e->nsems, (d->mode & 0777) | IPC_CREAT | IPC_EXCL);
		ret = check_id("sem", id, d);
	}
	if (!ret && semctl(id, 0, SETALL, v) < 0)
		ret = -errno;
	if (!ret && semctl(id, 0, IPC_STAT, &ds) == 0) {
		perm_from_desc(&ds.sem_perm, d);
		if (semctl(id, 0, IPC_SET, &ds))
			ret = -errno;
	}
	free(v);
	if (ret)
		pr_err("SysV sem %u: not restored: %s", d->id, strerror(-ret));
	return ret;
}

/* msg */

struct msg_buf {
	long mtype;
	char mtext[];
};

static int dump_msg_one(struct img *img, int id, const struct msqid_ds *ds, struct msg_buf *m,
			size_t max)
{
	IpcMsgEntry e;
	IpcDescEntry d;
	int ret;

	ipc_msg_entry__init(&e);
	fill_desc(&d, id, &ds->msg_perm);
	e.desc = &d;
	e.qbytes = ds->msg_qbytes;
	e.qnum = ds->msg_qnum;
	ret = img_write_msg(img, &e.base);
	for (unsigned long i = 0; !ret && i < ds->msg_qnum; i++) {
		ssize_t n = msgrcv(id, m, max, i, IPC_NOWAIT | MSG_COPY);
		IpcMsg im;

		if (n < 0) {
			pr_perror("SysV msg %d: cannot copy message %lu (MSG_COPY)", id, i);
			return -errno;
		}
		ipc_msg__init(&im);
		im.mtype = m->mtype;
		im.msize = n;
		memset(m->mtext + n, 0, ROUND8(n) - n);
		ret = img_write_msg(img, &im.base) ?: img_write_raw(img, m->mtext, ROUND8(n));
	}
	return ret;
}

static int dump_msg(struct img *img)
{
	struct msginfo info;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info), ret = 0;
	struct msg_buf *m;
	uint64_t msgmax;

	if (max < 0) {
		pr_perror("msgctl(MSG_INFO)");
		return -errno;
	}
	ret = sysctl_read("kernel/msgmax", &msgmax, 1);
	if (ret)
		return ret;
	m = malloc(sizeof(*m) + ROUND8(msgmax));
	if (!m)
		return -ENOMEM;
	for (int i = 0; !ret && i <= max; i++) {
		struct msqid_ds ds;
		int id = msgctl(i, MSG_STAT, &ds);

		if (id >= 0)
			ret = dump_msg_one(img, id, &ds, m, msgmax);
	}
	free(m);
	return ret;
}

static int restore_msgs(struct img *img, int id, uint32_t qnum)
{
	struct msg_buf *m = NULL;
	int ret = 0;

	for (uint32_t i = 0; !ret && i < qnum; i++) {
		IpcMsg *im;

		ret = img_read_msg(img, &ipc_msg__descriptor, (ProtobufCMessage **)&im);
		if (ret <= 0) {
			pr_err("ipcns-msg: queue %d: message %u of %u missing", id, i, qnum);
			ret = ret ?: -EINVAL;
			break;
		}
		ret = 0;
		if (im->msize > MAX_MSG) {
			pr_err("ipcns-msg: queue %d: a message of %u bytes", id, im->msize);
			ret = -EINVAL;
		}
		if (!ret && !(m = realloc(m, sizeof(*m) + ROUND8(im->msize))))
			ret = -ENOMEM;
		if (!ret) {
			m->mtype = im->mtype;
			ret = img_read_raw(img, m->mtext, ROUND8(im->msize));
		}
		if (!ret && msgsnd(id, m, im->msize, IPC_NOWAIT)) {
			pr_perror("SysV msg %d: cannot queue message %u again", id, i);
			ret = -errno;
		}
		img_free_msg(&im->base);
	}
	free(m);
	return ret;
}

static int restore_msg_one(struct img *img, const IpcMsgEntry *e)
{
	const IpcDescEntry *d = e->desc;
	struct msqid_ds ds;
	int id, ret;

	ret = next_id("msg", d);
	if (ret)
		return ret;
	id = msgget(d->key, (d->mode & 0777) | IPC_CREAT | IPC_EXCL);
	ret = check_id("msg", id, d);
	if (ret)
		return ret;
	/* Its size first: the messages may need more than the default. */
	if (msgctl(id, IPC_STAT, &ds) == 0) {
		perm_from_desc(&ds.msg_perm, d);
		ds.msg_qbytes = e->qbytes;
		if (msgctl(id, IPC_SET, &ds)) {
			pr_perror("SysV msg %d: cannot set its owner, mode and size %u", id,
				  e->qbytes);
			return -errno;
		}
	}
	return restore_msgs(img, id, e->qnum);
}

/* --- the namespace --- */

static int dump_objects(struct dump_ctx *ctx, uint32_t id, enum img_type type)
{
	struct img *img;
	int ret;

	ret = img_open(&img, ctx->dirfd, type, id, O_WRONLY);
	if (ret)
		return ret;
	if (type == IMG_IPCNS_SHM)
		ret = dump_shm(ctx, img);
	else if (type == IMG_IPCNS_SEM)
		ret = dump_sem(img);
	else
		ret = dump_msg(img);
	return img_close(img) ?: ret;
}

static int ipc_dump(struct dump_ctx *ctx, uint32_t id)
{
	int ret;

	ret = dump_var(ctx, id) ?: dump_objects(ctx, id, IMG_IPCNS_SHM) ?:
	      dump_objects(ctx, id, IMG_IPCNS_SEM) ?: dump_objects(ctx, id, IMG_IPCNS_MSG);
	if (ret)
		pr_err("ipc namespace %u: not dumped", id);
	return ret;
}

static int restore_objects(struct rst_ctx *ctx, uint32_t id, enum img_type type)
{
	static const ProtobufCMessageDescriptor *const md[] = {
		[IMG_IPCNS_SHM] = &ipc_shm_entry__descriptor,
		[IMG_IPCNS_SEM] = &ipc_sem_entry__descriptor,
		[IMG_IPCNS_MSG] = &ipc_msg_entry__descriptor,
	};
	ProtobufCMessage *m;
	struct img *img;
	int ret;

	ret = img_open(&img, ctx->dirfd, type, id, O_RDONLY);
	/* As CRIU reads it: none (CRIU 4.2 writes none of them in a user namespace). */
	if (ret == -ENOENT) {
		pr_debug("ipcns-%s-%u.img: none, no such objects",
			 type == IMG_IPCNS_SHM ? "shm" : type == IMG_IPCNS_SEM ? "sem" : "msg", id);
		return 0;
	}
	if (ret)
		return ret;
	while ((ret = img_read_msg(img, md[type], &m)) == 1) {
		if (type == IMG_IPCNS_SHM)
			ret = restore_shm_one(ctx, img, (IpcShmEntry *)m);
		else if (type == IMG_IPCNS_SEM)
			ret = restore_sem_one(img, (IpcSemEntry *)m);
		else
			ret = restore_msg_one(img, (IpcMsgEntry *)m);
		img_free_msg(m);
		if (ret)
			break;
	}
	img_close(img);
	return ret < 0 ? ret : 0;
}

static int ipc_restore(struct rst_ctx *ctx, uint32_t id)
{
	IpcVarEntry *var;
	int ret;

	ret = img_read_one(ctx->dirfd, IMG_IPC_VAR, id, &ipc_var_entry__descriptor,
			   (ProtobufCMessage **)&var);
	if (ret == -ENOENT)
		pr_err("ipcns-var-%u.img: missing, named by the root's ids", id);
	if (ret)
		return ret;
	ret = restore_var(var, 0, FIRST_NEXT_ID) ?: restore_objects(ctx, id, IMG_IPCNS_SHM) ?:
	      restore_objects(ctx, id, IMG_IPCNS_SEM) ?: restore_objects(ctx, id, IMG_IPCNS_MSG) ?:
	      restore_var(var, FIRST_NEXT_ID, NR_SYSCTLS);
	img_free_msg(&var->base);
	if (ret)
		pr_err("ipc namespace %u: not restored", id);
	return ret;
}

const struct ns_operations ipc_ns_ops = {
	.name = "ipc",
	.cflag = CLONE_NEWIPC,
	.dump = ipc_dump,
	.restore = ipc_restore,
	/* Its sysctls are writable by the root of its user namespace only. */
	.as_userns_root = true,
};
