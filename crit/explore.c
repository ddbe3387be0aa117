/*
 * explore.c - `crit x DIR ps|fds|mems|rss`: read the images of a dump and
 * print the process tree, open files, memory maps and dumped pages in
 * crit's layout.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.pb-c.h"
#include "crit.h"
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "image.h"
#include "log.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pipe.pb-c.h"
#include "pstree.pb-c.h"
#include "regfile.pb-c.h"
#include "sk-unix.pb-c.h"

struct msgs {
	ProtobufCMessage **v;
	size_t n;
};

struct xctx {
	int dirfd;
	struct msgs pstree;
	struct msgs files;	/* files.img, when the dump has one */
	struct msgs regs;	/* reg-files.img, for older dumps */
	struct msgs pipes;
	struct msgs unixsk;
	bool loaded_files;
};

static void msgs_free(struct msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		img_free_msg(m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* Every entry of one image; the first message type applies to the first entry. */
static int load(int dirfd, enum img_type type, unsigned long id, struct msgs *out, bool optional)
{
	const struct img_desc *d = img_desc_of(type);
	struct img *img;
	int ret;

	out->v = NULL;
	out->n = 0;
	ret = img_open(&img, dirfd, type, id, O_RDONLY);
	if (ret == -ENOENT && optional)
		return 0;
	if (ret == -ENOENT) {
		char name[64];

		snprintf(name, sizeof(name), d->fname, id);
		pr_err("%s: missing from the image directory", name);
	}
	if (ret)
		return ret;
	for (;;) {
		const ProtobufCMessageDescriptor *md = !out->n && d->first ? d->first : d->msg;
		ProtobufCMessage *m, **nv;

		ret = img_read_msg(img, md, &m);
		if (ret <= 0)
			break;
		nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
		if (!nv) {
			img_free_msg(m);
			ret = -ENOMEM;
			break;
		}
		out->v = nv;
		out->v[out->n++] = m;
	}
	img_close(img);
	if (ret < 0)
		msgs_free(out);
	return ret;
}

static int load_one(int dirfd, enum img_type type, unsigned long id, ProtobufCMessage **m)
{
	struct msgs all;
	int ret = load(dirfd, type, id, &all, false);

	if (ret)
		return ret;
	if (!all.n) {
		pr_err("%s: image holds no entry", img_desc_of(type)->name);
		return -EINVAL;
	}
	*m = all.v[0];
	all.v[0] = NULL;
	all.n = 1;
	free(all.v);
	return 0;
}

#define PSTREE(ctx, i)	((PstreeEntry *)(ctx)->pstree.v[i])

/* --- ps --- */

static void show_ps(struct xctx *x, const char **comm, size_t i, int depth)
{
	PstreeEntry *p = PSTREE(x, i);

	printf("%7u%7u%7u   %*s%s\n", p->pid, p->pgid, p->sid, 4 * depth, "", comm[i]);
	for (size_t k = 0; k < x->pstree.n; k++)
		if (PSTREE(x, k)->ppid == p->pid && k != i)
			show_ps(x, comm, k, depth + 1);
}

static int explore_ps(struct xctx *x)
{
	const char **comm = calloc(x->pstree.n, sizeof(*comm));
	CoreEntry **cores = calloc(x->pstree.n, sizeof(*cores));
	size_t i;
	int ret = 0;

	if (!comm || !cores) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; !ret && i < x->pstree.n; i++) {
		ret = load_one(x->dirfd, IMG_CORE, PSTREE(x, i)->pid, (ProtobufCMessage **)&cores[i]);
		if (!ret)
			comm[i] = cores[i]->tc && cores[i]->tc->comm ? cores[i]->tc->comm : "?";
	}
	if (ret)
		goto out;
	printf("%7s%7s%7s   %s\n", "PID", "PGID", "SID", "COMM");
	for (i = 0; i < x->pstree.n; i++)
		if (!PSTREE(x, i)->ppid)
			show_ps(x, comm, i, 0);
out:
	for (i = 0; cores && i < x->pstree.n; i++)
		img_free_msg(&cores[i]->base);
	free(cores);
	free(comm);
	return ret;
}

/* --- files --- */

static int load_files(struct xctx *x)
{
	int ret;

	if (x->loaded_files)
		return 0;
	x->loaded_files = true;
	ret = load(x->dirfd, IMG_FILES, 0, &x->files, true);
	if (!ret)
		ret = load(x->dirfd, IMG_REG_FILES, 0, &x->regs, true);
	if (!ret)
		ret = load(x->dirfd, IMG_PIPES, 0, &x->pipes, true);
	if (!ret)
		ret = load(x->dirfd, IMG_UNIXSK, 0, &x->unixsk, true);
	return ret;
}

static FileEntry *find_file(struct xctx *x, uint32_t id)
{
	for (size_t i = 0; i < x->files.n; i++)
		if (((FileEntry *)x->files.v[i])->id == id)
			return (FileEntry *)x->files.v[i];
	return NULL;
}

/* What an fd of @type with file id @id is, the way crit names it. */
static void file_str(struct xctx *x, FdTypes type, uint32_t id, char *buf, size_t len)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(&fd_types__descriptor, type);
	FileEntry *fe = find_file(x, id);
	size_t i;

	if (type == FD_TYPES__REG) {
		RegFileEntry *r = NULL;

		if (fe)
			r = fe->reg;
		for (i = 0; !fe && i < x->regs.n; i++)
			if (((RegFileEntry *)x->regs.v[i])->id == id)
				r = (RegFileEntry *)x->regs.v[i];
		snprintf(buf, len, "%s", r && r->name ? r->name : "unknown path");
	} else if (type == FD_TYPES__PIPE) {
		PipeEntry *p = fe ? fe->pipe : NULL;

		for (i = 0; !fe && i < x->pipes.n; i++)
			if (((PipeEntry *)x->pipes.v[i])->id == id)
				p = (PipeEntry *)x->pipes.v[i];
		if (p)
			snprintf(buf, len, "pipe[%u]", p->pipe_id);
		else
			snprintf(buf, len, "pipe[?]");
	} else if (type == FD_TYPES__UNIXSK) {
		UnixSkEntry *u = fe ? fe->usk : NULL;

		for (i = 0; !fe && i < x->unixsk.n; i++)
			if (((UnixSkEntry *)x->unixsk.v[i])->id == id)
				u = (UnixSkEntry *)x->unixsk.v[i];
		if (!u)
			snprintf(buf, len, "unix[?]");
		else if (u->name.len && u->name.data[0])
			snprintf(buf, len, "unix[%u (%u) %.*s]", u->ino, u->peer,
				 (int)u->name.len, (const char *)u->name.data);
		else
			snprintf(buf, len, "unix[%u (%u)]", u->ino, u->peer);
	} else {
		snprintf(buf, len, "%s.%u", ev ? ev->name : "?", id);
	}
}

static int explore_fds(struct xctx *x)
{
	char buf[4200];
	int ret = load_files(x);

	for (size_t i = 0; !ret && i < x->pstree.n; i++) {
		uint32_t pid = PSTREE(x, i)->pid;
		TaskKobjIdsEntry *ids;
		FsEntry *fs;
		struct msgs fds;

		ret = load_one(x->dirfd, IMG_IDS, pid, (ProtobufCMessage **)&ids);
		if (ret)
			break;
		ret = load(x->dirfd, IMG_FDINFO, ids->files_id, &fds, false);
		img_free_msg(&ids->base);
		if (ret)
			break;
		printf("%u\n", pid);
		for (size_t k = 0; k < fds.n; k++) {
			FdinfoEntry *fd = (FdinfoEntry *)fds.v[k];

			file_str(x, fd->type, fd->id, buf, sizeof(buf));
			printf("\t%7u: %s\n", fd->fd, buf);
		}
		msgs_free(&fds);
		ret = load_one(x->dirfd, IMG_FS, pid, (ProtobufCMessage **)&fs);
		if (ret)
			break;
		file_str(x, FD_TYPES__REG, fs->cwd_id, buf, sizeof(buf));
		printf("\t%7s: %s\n", "cwd", buf);
		file_str(x, FD_TYPES__REG, fs->root_id, buf, sizeof(buf));
		printf("\t%7s: %s\n", "root", buf);
		img_free_msg(&fs->base);
	}
	return ret;
}

/* --- memory --- */

#define VMA_AREA_REGULAR	(1 << 0)
#define VMA_AREA_STACK		(1 << 1)
#define VMA_AREA_VSYSCALL	(1 << 2)
#define VMA_AREA_VDSO		(1 << 3)
#define VMA_FILE_PRIVATE	(1 << 6)
#define VMA_FILE_SHARED		(1 << 7)
#define VMA_ANON_SHARED		(1 << 8)
#define VMA_AREA_SYSVIPC	(1 << 10)
#define VMA_AREA_SOCKET		(1 << 11)

/* Shared objects get small numbers in order of first appearance, as crit does. */
struct vma_ids {
	uint64_t *ids;
	size_t n;
};

static size_t vma_id(struct vma_ids *v, uint64_t shmid)
{
	size_t i;
	uint64_t *n;

	for (i = 0; i < v->n; i++)
		if (v->ids[i] == shmid)
			return i + 1;
	n = realloc(v->ids, (v->n + 1) * sizeof(*n));
	if (!n)
		return 0;
	v->ids = n;
	v->ids[v->n++] = shmid;
	return v->n;
}

static void vma_name(struct xctx *x, struct vma_ids *ids, VmaEntry *v, char *buf, size_t len)
{
	uint32_t st = v->status;
	size_t n = 0;

	buf[0] = '\0';
	if (st & VMA_AREA_SYSVIPC)
		n = snprintf(buf, len, " ips[%zx]", vma_id(ids, v->shmid));
	else if (st & VMA_ANON_SHARED)
		n = snprintf(buf, len, " shmem[%zx]", vma_id(ids, v->shmid));
	else if (st & VMA_AREA_SOCKET)
		n = snprintf(buf, len, " packet[%zx]", vma_id(ids, v->shmid));
	else if (st & (VMA_FILE_PRIVATE | VMA_FILE_SHARED)) {
		buf[0] = ' ';
		file_str(x, FD_TYPES__REG, v->shmid, buf + 1, len - 1);
		n = strlen(buf);
		if (v->pgoff)
			n += snprintf(buf + n, len - n, " + %#llx", (unsigned long long)v->pgoff);
		if (st & VMA_FILE_SHARED)
			n += snprintf(buf + n, len - n, " (s)");
	} else if (st & VMA_AREA_STACK)
		n = snprintf(buf, len, " [stack]");
	else if (st & VMA_AREA_VSYSCALL)
		n = snprintf(buf, len, " [vsyscall]");
	else if (st & VMA_AREA_VDSO)
		n = snprintf(buf, len, " [vdso]");
	else if (v->flags & 0x100)	/* MAP_GROWSDOWN */
		n = snprintf(buf, len, " [stack?]");
	if (!(st & VMA_AREA_REGULAR) && n < len)
		snprintf(buf + n, len - n, " *");
}

static int explore_mems(struct xctx *x)
{
	struct vma_ids ids = { 0 };
	char buf[4300];
	int ret = load_files(x);

	for (size_t i = 0; !ret && i < x->pstree.n; i++) {
		uint32_t pid = PSTREE(x, i)->pid;
		MmEntry *mm;

		ret = load_one(x->dirfd, IMG_MM, pid, (ProtobufCMessage **)&mm);
		if (ret)
			break;
		printf("%u\n", pid);
		file_str(x, FD_TYPES__REG, mm->exe_file_id, buf, sizeof(buf));
		printf("\t%-36s    %s\n", "exe", buf);
		for (size_t k = 0; k < mm->n_vmas; k++) {
			VmaEntry *v = mm->vmas[k];
			char range[64];

			vma_name(x, &ids, v, buf, sizeof(buf));
			snprintf(range, sizeof(range), "%08llx-%08llx",
				 (unsigned long long)v->start, (unsigned long long)v->end);
			printf("\t%-36s%c%c%c%s\n", range, v->prot & 1 ? 'r' : '-',
			       v->prot & 2 ? 'w' : '-', v->prot & 4 ? 'x' : '-', buf);
		}
		img_free_msg(&mm->base);
	}
	free(ids.ids);
	return ret;
}

static uint64_t pm_pages(const PagemapEntry *pm)
{
	return pm->has_nr_pages ? pm->nr_pages : pm->compat_nr_pages;
}

static void rss_line(struct xctx *x, MmEntry *mm, const PagemapEntry *pm, size_t *vmi, long *pvmi)
{
	uint64_t end = pm->vaddr + (pm_pages(pm) << 12);
	char pstr[64], name[4200];

	snprintf(pstr, sizeof(pstr), "\t%llx / %-8llu", (unsigned long long)pm->vaddr,
		 (unsigned long long)pm_pages(pm));
	printf("%-24s", pstr);
	while (*vmi < mm->n_vmas && mm->vmas[*vmi]->end <= pm->vaddr)
		(*vmi)++;
	while (*vmi < mm->n_vmas && mm->vmas[*vmi]->start < end) {
		VmaEntry *v = mm->vmas[*vmi];

		if ((long)*vmi == *pvmi) {
			printf(" ~");
		} else {
			printf(" %08llx / %-8llu", (unsigned long long)v->start,
			       (unsigned long long)((v->end - v->start) >> 12));
			if (v->status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED)) {
				file_str(x, FD_TYPES__REG, v->shmid, name, sizeof(name));
				printf(" %s", name);
			}
			*pvmi = *vmi;
		}
		printf("\n\t%23s", "");
		(*vmi)++;
	}
	if (*vmi)
		(*vmi)--;
	printf("\n");
}

static int explore_rss(struct xctx *x)
{
	int ret = load_files(x);

	for (size_t i = 0; !ret && i < x->pstree.n; i++) {
		uint32_t pid = PSTREE(x, i)->pid;
		struct msgs pms;
		size_t vmi = 0;
		long pvmi = -1;
		MmEntry *mm;

		ret = load_one(x->dirfd, IMG_MM, pid, (ProtobufCMessage **)&mm);
		if (ret)
			break;
		ret = load(x->dirfd, IMG_PAGEMAP, pid, &pms, false);
		if (ret) {
			img_free_msg(&mm->base);
			break;
		}
		printf("%u\n", pid);
		for (size_t k = 1; k < pms.n; k++)
			rss_line(x, mm, (PagemapEntry *)pms.v[k], &vmi, &pvmi);
		msgs_free(&pms);
		img_free_msg(&mm->base);
	}
	return ret;
}

int crit_explore(const char *dir, const char *what)
{
	static const struct {
		const char *name;
		int (*fn)(struct xctx *x);
	} verbs[] = {
		{ "ps", explore_ps }, { "fds", explore_fds },
		{ "mems", explore_mems }, { "rss", explore_rss },
	};
	struct xctx x = { 0 };
	ProtobufCMessage *inv;
	int ret = -EINVAL;
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, what))
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0])) {
		pr_err("x: unknown view '%s' (ps, fds, mems or rss)", what);
		return -EINVAL;
	}
	x.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.dirfd < 0) {
		pr_perror("%s: cannot open image directory", dir);
		return -errno;
	}
	/* A directory without an inventory is no dump (or an unfinished one). */
	if (faccessat(x.dirfd, img_desc_of(IMG_INVENTORY)->fname, F_OK, 0)) {
		pr_err("%s: no inventory.img: not an image directory, or an unfinished dump", dir);
		ret = -ENOENT;
	} else {
		ret = load_one(x.dirfd, IMG_INVENTORY, 0, &inv);
	}
	if (!ret) {
		img_free_msg(inv);
		ret = load(x.dirfd, IMG_PSTREE, 0, &x.pstree, false);
	}
	if (!ret)
		ret = verbs[i].fn(&x);
	fflush(stdout);
	msgs_free(&x.pstree);
	msgs_free(&x.files);
	msgs_free(&x.regs);
	msgs_free(&x.pipes);
	msgs_free(&x.unixsk);
	close(x.dirfd);
	return ret;
}
