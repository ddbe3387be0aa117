/*
 * mem-layout.c - a task's memory layout at dump: the mm fields (from
 * /proc/PID/stat, auxv and the parasite) and its areas, from smaps,
 * classified the way CRIU classifies them so that either tool restores
 * the other's images; mm-PID.img holds both.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "aio.h"
#include "dump-ctx.h"
#include "files/api.h"
#include "log.h"
#include "mem-hugetlb.h"
#include "mem.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "shmem.h"
#include "vdso.h"

#include "mem-dump.h"
#include "ns/ns.h"
#include "proc.h"


#define VDSO_PROT	(PROT_READ | PROT_EXEC)
#define VVAR_PROT	PROT_READ

/* --- the task's mm: /proc/PID/stat and auxv --- */

/* The layout fields of stat, read when the tree was collected. */
static int fill_mm_from_stat(const struct dump_task *t, MmEntry *mm)
{
	const struct proc_stat *st = &t->stat;

	if (st->nr_fields < 51) {
		pr_err("/proc/%d/stat: unexpected format (%d fields)", t->pid, st->nr_fields);
		return -EINVAL;
	}
	mm->mm_start_code = st->start_code;
	mm->mm_end_code = st->end_code;
	mm->mm_start_data = st->start_data;
	mm->mm_end_data = st->end_data;
	mm->mm_start_stack = st->start_stack;
	mm->mm_start_brk = st->start_brk;
	mm->mm_arg_start = st->arg_start;
	mm->mm_arg_end = st->arg_end;
	mm->mm_env_start = st->env_start;
	mm->mm_env_end = st->env_end;
	return 0;
}

/*
 * The saved auxv, as u64 words.  CRIU's x86 restore refuses more than 44
 * words and CRIU's dump reads no more, dropping the AT_NULL pair when the
 * kernel hands out 22 real ones (as it does today): we keep the same 44,
 * or fewer when the vector is shorter, so that CRIU restores our images.
 */
static int fill_mm_auxv(pid_t pid, MmEntry *mm, uint64_t *words)
{
	char buf[MM_AUXV_WORDS_MAX * 8 + 1];
	ssize_t len = proc_read_small(pid, "auxv", buf, sizeof(buf));

	if (len < 0)
		return len;
	mm->n_mm_saved_auxv = len / 8;
	memcpy(words, buf, mm->n_mm_saved_auxv * 8);
	mm->mm_saved_auxv = words;
	return 0;
}

/*
 * What only the task can tell: its current brk (stat has only where the
 * heap started), whether it is dumpable and whether THP is off for it;
 * its parasite told the core part (GET_TASK).
 */
static int fill_mm_from_task(struct dump_task *t, MmEntry *mm)
{
	const struct compel_misc *m = &t->misc;

	if (!t->has_misc) {
		pr_err("pid %d: the task's settings were not read", t->pid);
		return -EINVAL;
	}
	/* brk(0) cannot fail: it answers the current end. */
	if (m->dumpable < 0 || m->thp_disabled < 0) {
		pr_err("pid %d: prctl in the task failed: %s", t->pid,
		       strerror(-(m->dumpable < 0 ? m->dumpable : m->thp_disabled)));
		return m->dumpable < 0 ? m->dumpable : m->thp_disabled;
	}
	mm->mm_brk = m->brk;
	mm->has_dumpable = true;
	mm->dumpable = m->dumpable;
	mm->has_thp_disabled = true;
	mm->thp_disabled = m->thp_disabled != 0;
	return 0;
}

/* --- the areas: /proc/PID/smaps --- */


/* An area as smaps describes it, before it is classified. */
struct smaps_vma {
	uint64_t start, end, pgoff;
	char perms[5];
	unsigned int maj, min;
	unsigned long ino;
	char name[PATH_MAX];
	char vmflags[256];
	bool has_vmflags;
};

/* A line reader over a /proc file that is too large to slurp (smaps). */
struct line_reader {
	int fd;
	char *buf;
	size_t size, len, pos;
	bool eof;
};

/* The next line, without its newline: 1, 0 at the end, or -errno. */
static int read_line(struct line_reader *r, char **line)
{
	for (;;) {
		char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		ssize_t n;

		if (nl) {
			*nl = '\0';
			*line = r->buf + r->pos;
			r->pos = nl + 1 - r->buf;
			return 1;
		}
		if (r->eof) {
			if (r->pos == r->len)
				return 0;
			/* A last line without newline: there is room for the NUL. */
			r->buf[r->len] = '\0';
			*line = r->buf + r->pos;
			r->pos = r->len;
			return 1;
		}
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
		if (r->len == r->size - 1) {
			pr_err("smaps: a line longer than %zu bytes", r->size);
			return -E2BIG;
		}
		n = read(r->fd, r->buf + r->len, r->size - 1 - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_perror("cannot read smaps");
			return -errno;
		}
		if (!n)
			r->eof = true;
		r->len += n;
	}
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "start-end perms ..." opens an area; other lines are "Key: value". */
static bool is_range_line(const char *s)
{
	const char *p = s;

	while (is_hex(*p))
		p++;
	if (p == s || *p++ != '-')
		return false;
	s = p;
	while (is_hex(*p))
		p++;
	return p != s && *p == ' ';
}

static int parse_range_line(char *s, struct smaps_vma *sv)
{
	struct proc_maps_line m;
	size_t len;

	if (!proc_parse_maps_line(s, &m)) {
		pr_err("smaps: cannot parse \"%s\"", s);
		return -EINVAL;
	}
	len = strlen(m.name);
	if (len >= sizeof(sv->name)) {
		pr_err("smaps: name too long at %" PRIx64, m.start);
		return -ENAMETOOLONG;
	}
	sv->start = m.start;
	sv->end = m.end;
	sv->pgoff = m.pgoff;
	memcpy(sv->perms, m.perms, sizeof(sv->perms));
	sv->maj = m.maj;
	sv->min = m.min;
	sv->ino = m.ino;
	memcpy(sv->name, m.name, len + 1);
	sv->has_vmflags = false;
	sv->vmflags[0] = '\0';
	return 0;
}

static bool vmflag(const char *tok, const char *f)
{
	return tok[0] == f[0] && tok[1] == f[1];
}

/*
 * The VmFlags line: mmap flags that smaps does not otherwise show, and the
 * madvise() advice in force (bit n for advice n, as CRIU keeps it).
 */
static int apply_vmflags(pid_t pid, struct smaps_vma *sv, VmaEntry *e)
{
	bool io_pf = false;
	char *save = NULL, *tok;

	for (tok = strtok_r(sv->vmflags, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strlen(tok) != 2)
			continue;
		if (vmflag(tok, "gd"))
			e->flags |= MAP_GROWSDOWN;
		else if (vmflag(tok, "lo"))
			e->flags |= MAP_LOCKED;
		else if (vmflag(tok, "nr"))
			e->flags |= MAP_NORESERVE;
		else if (vmflag(tok, "ht"))
			e->flags |= MAP_HUGETLB;
		else if (vmflag(tok, "dp"))
			e->flags |= MAP_DROPPABLE;
		else if (vmflag(tok, "sr"))
			e->madv |= 1ULL << MADV_SEQUENTIAL;
		else if (vmflag(tok, "rr"))
			e->madv |= 1ULL << MADV_RANDOM;
		else if (vmflag(tok, "dc"))
			e->madv |= 1ULL << MADV_DONTFORK;
		else if (vmflag(tok, "dd"))
			e->madv |= 1ULL << MADV_DONTDUMP;
		else if (vmflag(tok, "mg"))
			e->madv |= 1ULL << MADV_MERGEABLE;
		else if (vmflag(tok, "hg"))
			e->madv |= 1ULL << MADV_HUGEPAGE;
		else if (vmflag(tok, "nh"))
			e->madv |= 1ULL << MADV_NOHUGEPAGE;
		else if (vmflag(tok, "wf"))
			e->madv |= 1ULL << MADV_WIPEONFORK;
		else if (vmflag(tok, "io") || vmflag(tok, "pf"))
			io_pf = true;
		else if (vmflag(tok, "ss"))
			e->status |= VMA_AREA_SHSTK;
	}
	e->has_madv = e->madv != 0;

	/* A droppable area is private in nature, but mmap() wants it without MAP_PRIVATE. */
	if ((e->flags & MAP_DROPPABLE) && (e->flags & MAP_PRIVATE))
		e->flags &= ~MAP_PRIVATE;

	if (e->status & VMA_AREA_SHSTK) {
		pr_err("pid %d: shadow stack at %" PRIx64 " is not supported yet", pid, e->start);
		return -ENOTSUP;
	}
	/* Pages of VM_IO/VM_PFNMAP areas are not the task's to copy; vvar is the kernel's. */
	if (io_pf && !(e->status & (VMA_AREA_VVAR | VMA_FILE_SHARED))) {
		pr_err("pid %d: I/O or PFN mapping at %" PRIx64 "-%" PRIx64
		       " (%s) cannot be dumped", pid, e->start, e->end, sv->name);
		return -ENOTSUP;
	}
	return 0;
}

/* st_dev of shmem's internal mount: memfds and shared anonymous memory live there. */
static int shmem_dev(dev_t *dev)
{
	static dev_t cached;
	static bool known;
	struct stat st;
	int fd;

	if (known) {
		*dev = cached;
		return 0;
	}
	fd = syscall(__NR_memfd_create, "stasis-shmem-probe", MFD_CLOEXEC);
	if (fd < 0) {
		pr_perror("memfd_create");
		return -errno;
	}
	if (fstat(fd, &st)) {
		int err = -errno;

		pr_perror("fstat of a memfd");
		close(fd);
		return err;
	}
	close(fd);
	cached = st.st_dev;
	known = true;
	*dev = cached;
	return 0;
}

/* A file of the kernel's own hugetlbfs: shared anonymous hugetlb memory or a hugetlb memfd. */
static bool is_hugetlb_object(const VmaEntry *e, const struct stat *st)
{
	return (e->flags & MAP_HUGETLB) &&
	       hugetlb_internal_dev(st->st_dev, hugetlb_size_shift(st->st_blksize));
}

/*
 * A packet socket's ring, mapped from the socket: no pages of its own
 * to dump, the socket's files.img id for the restore to map it from, as
 * CRIU keeps it.  Its rings' geometry comes with the socket.
 */
static int classify_socket_vma(struct dump_ctx *ctx, struct dump_task *t, VmaEntry *e,
			       const struct stat *st)
{
	uint32_t id;
	int ret = files_dump_socket_map(ctx, t, st->st_ino, &id);

	if (ret)
		return ret;
	e->status |= VMA_AREA_SOCKET;
	e->shmid = id;
	return 0;
}

/*
 * An attachment of a SysV shared memory segment (shmat): the segment and
 * its contents are the IPC namespace's (ns/ipc.c); the area names it by
 * its id, the inode of its file, as CRIU keeps it.  A tree without an IPC
 * namespace of its own attaches the host's segments (PostgreSQL's lock
 * segment is one): they are not the tree's to dump, but they outlive it,
 * and the restore attaches the same id again where it still exists.  CRIU
 * refuses these; a segment already removed (IPC_RMID) would go with the
 * tree, so it is refused here too.
 */
static int classify_sysv_vma(struct dump_task *t, VmaEntry *e, const struct stat *st)
{
	struct shmid_ds ds;
	int id = (int)st->st_ino;

	if (!ns_dump_has(CLONE_NEWIPC)) {
		if (shmctl(id, IPC_STAT, &ds) < 0) {
			pr_perror("pid %d: SysV shared memory %d attached at %" PRIx64
				  " is not in stasis's IPC namespace", t->pid, id, e->start);
			return -ENOTSUP;
		}
		if (ds.shm_perm.mode & SHM_DEST) {
			pr_err("unsupported: pid %d has SysV shared memory %d attached at %" PRIx64
			       ", removed (IPC_RMID) from the host's IPC namespace: it goes with"
			       " the tree, and only a tree's own IPC namespace is dumped",
			       t->pid, id, e->start);
			return -ENOTSUP;
		}
		pr_info("pid %d: SysV shared memory %d at %" PRIx64 " is the host's: kept by its id",
			t->pid, id, e->start);
	}
	e->status |= VMA_ANON_SHARED | VMA_AREA_SYSVIPC;
	e->flags |= MAP_ANONYMOUS;
	e->shmid = st->st_ino;
	return 0;
}

/*
 * The regular files mapped so far in this dump, as smaps names them (path,
 * device numbers, inode), and their files.img ids: the next area of the
 * same file, in this task or the next (every task of a tree maps the same
 * libraries), needs no stat and no open of the file behind its map_files
 * link.  The path too: smaps gives the superblock's device, which btrfs
 * subvolumes share.
 */
struct reg_seen {
	unsigned int maj, min;
	unsigned long ino;
	char *name;
	uint32_t id;
};

struct mem_priv {
	struct reg_seen *v;
	size_t nr, cap;
};

static bool reg_kind(const struct smaps_vma *sv, const VmaEntry *e)
{
	return !(e->status & VMA_AREA_MEMFD) && !hugetlb_vmflags(sv->vmflags) && sv->ino &&
	       !strstr(sv->name, " (deleted)");
}

static const struct reg_seen *reg_find(struct dump_ctx *ctx, const struct smaps_vma *sv)
{
	struct mem_priv *m = ctx->mem_priv;

	for (size_t i = 0; m && i < m->nr; i++) {
		const struct reg_seen *r = &m->v[i];

		if (r->ino == sv->ino && r->maj == sv->maj && r->min == sv->min &&
		    !strcmp(r->name, sv->name))
			return r;
	}
	return NULL;
}

/* A regular file's area (not shmem, not hugetlb): the next one of its inode takes its id. */
static int remember_reg(struct dump_ctx *ctx, const struct smaps_vma *sv, const VmaEntry *e)
{
	struct mem_priv *m = ctx->mem_priv;
	struct reg_seen *r;

	if (!reg_kind(sv, e) || reg_find(ctx, sv))
		return 0;
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		ctx->mem_priv = m;
	}
	if (m->nr == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct reg_seen *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	r = &m->v[m->nr];
	r->name = strdup(sv->name);
	if (!r->name)
		return -ENOMEM;
	r->maj = sv->maj;
	r->min = sv->min;
	r->ino = sv->ino;
	r->id = e->shmid;
	m->nr++;
	return 0;
}

void mem_dump_layout_cleanup(struct dump_ctx *ctx)
{
	struct mem_priv *m = ctx->mem_priv;

	if (!m)
		return;
	for (size_t i = 0; i < m->nr; i++)
		free(m->v[i].name);
	free(m->v);
	free(m);
	ctx->mem_priv = NULL;
}

/*
 * The area just before, if it is a private mapping of the same file as
 * @sv (smaps' device, inode and name) and @sv is private too: a program
 * or library maps its file four or five times, and each map_files lookup
 * makes and frees a /proc inode (a third of a small task's area reading).
 * As CRIU does, the later area takes the earlier one's file and open
 * mode; a shared area always looks for itself, its mode matters.
 */
static const VmaEntry *same_file_before(const struct vma_list *l, const struct smaps_vma *prev,
					const struct smaps_vma *sv, const VmaEntry *e)
{
	const unsigned int other = VMA_FILE_SHARED | VMA_AREA_MEMFD | VMA_AREA_SYSVIPC |
				   VMA_AREA_SOCKET | VMA_AREA_AIORING;
	const VmaEntry *last = l->nr ? &l->v[l->nr - 1] : NULL;

	if (!prev || !last || last->start != prev->start || (e->flags & MAP_SHARED))
		return NULL;
	if (!(last->status & VMA_FILE_PRIVATE) || (last->status & other) || !last->has_fdflags)
		return NULL;
	if (prev->ino != sv->ino || prev->maj != sv->maj || prev->min != sv->min ||
	    strcmp(prev->name, sv->name))
		return NULL;
	return last;
}

/*
 * A file-backed area: its file is looked at through map_files (which
 * reaches deleted and unreachable files too) and recorded in files.img;
 * the link's own mode tells how the mapped file was opened.
 */
static int classify_file_vma(struct dump_ctx *ctx, struct dump_task *t, struct vma_list *l,
			     const struct smaps_vma *prev, struct smaps_vma *sv, VmaEntry *e,
			     bool *anon)
{
	bool shared = e->flags & MAP_SHARED;
	const struct reg_seen *seen;
	const VmaEntry *same;
	char link[96];
	struct stat lst, st;
	dev_t shm = 0;
	int ret;

	same = same_file_before(l, prev, sv, e);
	if (same) {
		e->status |= VMA_FILE_PRIVATE;
		e->shmid = same->shmid;
		e->fdflags = same->fdflags;
		e->has_fdflags = true;
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, t->pid,
		 e->start, e->end);
	if (lstat(link, &lst)) {
		if (errno == ENOENT) {	/* no file behind it after all */
			*anon = true;
			return 0;
		}
		pr_perror("cannot stat %s", link);
		return -errno;
	}
	switch (lst.st_mode & 0600) {
	case 0200:
		e->fdflags = O_WRONLY;
		break;
	case 0600:
		e->fdflags = O_RDWR;
		break;
	default:
		e->fdflags = O_RDONLY;
		break;
	}
	e->has_fdflags = true;
	if (!hugetlb_vmflags(sv->vmflags) && (seen = reg_find(ctx, sv))) {
		e->status |= shared ? VMA_FILE_SHARED : VMA_FILE_PRIVATE;
		e->shmid = seen->id;
		return 0;
	}
	if (stat(link, &st)) {
		pr_perror("cannot stat the file mapped at %" PRIx64 " (%s)", e->start, sv->name);
		return -errno;
	}

	if (S_ISSOCK(st.st_mode))
		return classify_socket_vma(ctx, t, e, &st);
	ret = shmem_dev(&shm);
	if (ret)
		return ret;
	if (S_ISREG(st.st_mode) && (st.st_dev == shm || is_hugetlb_object(e, &st))) {
		if (!strncmp(sv->name, "/SYSV", 5))
			return classify_sysv_vma(t, e, &st);
		/* CRIU keeps shared anonymous memory and memfds alike, as memfds. */
		e->status |= VMA_AREA_MEMFD;
	} else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 5)) {
		/* /dev/zero mapped privately: anonymous memory with a file name. */
	} else if (!S_ISREG(st.st_mode)) {
		pr_err("pid %d: cannot dump the mapping of %s at %" PRIx64 " (mode %o)",
		       t->pid, sv->name, e->start, st.st_mode);
		return -ENOTSUP;
	}
	e->status |= shared ? VMA_FILE_SHARED : VMA_FILE_PRIVATE;

	if (l->last_id && l->last_dev == st.st_dev && l->last_ino == st.st_ino) {
		e->shmid = l->last_id;
		return remember_reg(ctx, sv, e);
	}
	/*
	 * Mapped files are recorded without open flags, as CRIU does: fdflags
	 * has them.  A shmem object is a memfd entry, and its contents are
	 * dumped with it, once, by whoever maps it first (shmem.h).
	 */
	if (e->status & VMA_AREA_MEMFD)
		ret = memfd_dump_mapping(ctx, t, link, &l->last_id);
	else
		ret = files_dump_path(ctx, t, link, 0, &l->last_id);
	if (ret)
		return ret;
	l->last_dev = st.st_dev;
	l->last_ino = st.st_ino;
	e->shmid = l->last_id;
	return remember_reg(ctx, sv, e);
}

static int classify_vma(struct dump_ctx *ctx, struct dump_task *t, struct vma_list *l,
			const struct smaps_vma *prev, struct smaps_vma *sv, VmaEntry *e)
{
	bool anon = !(sv->maj || sv->min || sv->ino);	/* smaps shows 00:00 0 for no file */
	int ret;

	vma_entry__init(e);
	e->start = sv->start;
	e->end = sv->end;
	e->pgoff = sv->pgoff;
	e->fd = -1;
	if (sv->perms[0] == 'r')
		e->prot |= PROT_READ;
	if (sv->perms[1] == 'w')
		e->prot |= PROT_WRITE;
	if (sv->perms[2] == 'x')
		e->prot |= PROT_EXEC;
	e->flags = sv->perms[3] == 's' ? MAP_SHARED : MAP_PRIVATE;

	if (!strcmp(sv->name, "[vsyscall]")) {
		e->status = VMA_AREA_VSYSCALL;
	} else if (!strcmp(sv->name, "[vdso]")) {
		e->status = VMA_AREA_REGULAR;
		if ((e->prot & VDSO_PROT) == VDSO_PROT)
			e->status |= VMA_AREA_VDSO;
	} else if (!strcmp(sv->name, "[vvar]") || !strcmp(sv->name, "[vvar_vclock]")) {
		e->status = VMA_AREA_REGULAR;
		if ((e->prot & VVAR_PROT) == VVAR_PROT)
			e->status |= VMA_AREA_VVAR;
	} else if (!strcmp(sv->name, "[heap]")) {
		e->status = VMA_AREA_REGULAR | VMA_AREA_HEAP;
	} else if (!strcmp(sv->name, "[uprobes]")) {
		pr_err("pid %d: has a uprobes area, which cannot be dumped", t->pid);
		return -ENOTSUP;
	} else {
		e->status = VMA_AREA_REGULAR;
	}

	if (!anon && hugetlb_vmflags(sv->vmflags)) {
		ret = hugetlb_classify(t->pid, sv->name, e);
		if (ret)
			return ret < 0 ? ret : apply_vmflags(t->pid, sv, e);
		ret = classify_file_vma(ctx, t, l, prev, sv, e, &anon);
		if (ret)
			return ret;
	} else if (!anon) {
		ret = aio_ring_classify(t->pid, sv->name, e);
		if (ret)
			return ret < 0 ? ret : apply_vmflags(t->pid, sv, e);
		ret = classify_file_vma(ctx, t, l, prev, sv, e, &anon);
		if (ret)
			return ret;
	}
	if (anon) {
		if (e->flags & MAP_SHARED) {
			/* Shared memory always has a shmem file: this cannot be. */
			pr_err("pid %d: shared area %" PRIx64 " without a file", t->pid, e->start);
			return -EINVAL;
		}
		e->status |= VMA_ANON_PRIVATE;
		e->flags |= MAP_ANONYMOUS;
	}
	return apply_vmflags(t->pid, sv, e);
}

int mem_vma_list_add(struct vma_list *l, const VmaEntry *e)
{
	VmaEntry *last = l->nr ? &l->v[l->nr - 1] : NULL;

	/*
	 * Linux 6.18 splits the vvar area in [vvar] and [vvar_vclock]; CRIU
	 * keeps them as one area (the restorer remaps the kernel's whole vvar
	 * there), and so do we.
	 */
	if (last && (last->status & VMA_AREA_VVAR) && (e->status & VMA_AREA_VVAR)) {
		if (last->end != e->start) {
			pr_err("two vvar areas apart: %" PRIx64 "-%" PRIx64 " and %" PRIx64
			       "-%" PRIx64, last->start, last->end, e->start, e->end);
			return -EINVAL;
		}
		last->end = e->end;
		return 0;
	}
	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		VmaEntry *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->nr++] = *e;
	return 0;
}

/* The parasite's own area is ours, not the task's: it is left out. */
static unsigned long parasite_addr(struct dump_task *t)
{
	union compel_rpc_args *area = t->ctl ? compel_rpc_area(t->ctl) : NULL;

	return area ? compel_remote_addr(t->ctl, area) : 0;
}

static int add_smaps_vma(struct dump_ctx *ctx, struct dump_task *t, struct vma_list *l,
			 const struct smaps_vma *prev, struct smaps_vma *sv, unsigned long skip)
{
	VmaEntry e;
	int ret;

	if (skip && sv->start <= skip && skip < sv->end)
		return 0;
	if (!sv->has_vmflags) {
		pr_err("smaps: no VmFlags for %" PRIx64 "-%" PRIx64, sv->start, sv->end);
		return -EINVAL;
	}
	ret = classify_vma(ctx, t, l, prev, sv, &e);
	return ret ? ret : mem_vma_list_add(l, &e);
}

int mem_collect_vmas(struct dump_ctx *ctx, struct dump_task *t, struct vma_list *l)
{
	unsigned long skip = parasite_addr(t);
	struct line_reader r = { .size = 64 << 10 };
	struct smaps_vma *sv, *prev = NULL, *two;
	bool have = false;
	char *line = NULL;
	int ret;

	/* Two: the area being read and the one before (same_file_before()). */
	two = malloc(2 * sizeof(*two));
	sv = two;
	r.buf = malloc(r.size);
	r.fd = proc_open(t->pid, "smaps", O_RDONLY);
	ret = !two || !r.buf ? -ENOMEM : r.fd < 0 ? r.fd : 0;
	while (!ret) {
		ret = read_line(&r, &line);
		if (ret <= 0)
			break;
		ret = 0;
		if (is_range_line(line)) {
			if (have) {
				ret = add_smaps_vma(ctx, t, l, prev, sv, skip);
				prev = sv;
				sv = sv == two ? two + 1 : two;
			}
			if (!ret)
				ret = parse_range_line(line, sv);
			have = !ret;
		} else if (have && line[0] == 'V' && !strncmp(line, "VmFlags:", 8)) {
			snprintf(sv->vmflags, sizeof(sv->vmflags), "%s", line + 8);
			sv->has_vmflags = true;
		}
	}
	if (!ret && have)
		ret = add_smaps_vma(ctx, t, l, prev, sv, skip);
	if (r.fd >= 0)
		close(r.fd);
	free(r.buf);
	free(two);
	return ret;
}

/* --- which pages --- */

int mem_write_mm(struct dump_ctx *ctx, struct dump_task *t, MmEntry *mm,
		    const struct vma_list *l)
{
	int ret;

	mm->n_vmas = l->nr;
	mm->vmas = calloc(l->nr ? l->nr : 1, sizeof(*mm->vmas));
	if (!mm->vmas)
		return -ENOMEM;
	for (size_t i = 0; i < l->nr; i++)
		mm->vmas[i] = &l->v[i];
	ret = img_write_one(ctx->dirfd, IMG_MM, t->vpid, &mm->base);
	free(mm->vmas);
	mm->vmas = NULL;
	return ret;
}

int mem_fill_mm(struct dump_ctx *ctx, struct dump_task *t, MmEntry *mm, uint64_t *auxv,
		   const struct vma_list *l)
{
	char exe[64];
	int ret;

	ret = fill_mm_from_stat(t, mm);
	if (!ret)
		ret = fill_mm_auxv(t->pid, mm, auxv);
	if (ret)
		return ret;
	if (t->ctl && compel_rpc_area(t->ctl)) {
		ret = fill_mm_from_task(t, mm);
		if (ret)
			return ret;
	} else {
		/* No parasite to ask: the heap's end is the brk, page-rounded. */
		mm->mm_brk = mm->mm_start_brk;
		for (size_t i = 0; i < l->nr; i++)
			if (l->v[i].status & VMA_AREA_HEAP)
				mm->mm_brk = l->v[i].end;
		pr_warn("pid %d: no parasite; brk taken from the heap, dumpable unknown", t->pid);
	}
	ret = aio_dump_rings(t->pid, mm, l);
	if (ret)
		return ret;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", t->pid);
	ret = files_dump_path(ctx, t, exe, O_RDONLY, &t->exe_file_id);
	mm->exe_file_id = t->exe_file_id;
	return ret;
}
