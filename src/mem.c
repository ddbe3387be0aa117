/*
 * mem.c - dump a task's memory: its layout (mm-PID.img) and the pages only it
 * holds (pagemap-PID.img, pages-N.img).
 *
 * The layout comes from /proc/PID/stat, auxv and smaps, classified the way
 * CRIU classifies it, so that either tool restores the other's images.
 *
 * Pages are dumped for private areas only: shared memory belongs to its
 * object (memfd, shmem), which is dumped once whoever maps it.  Of a
 * private area only the pages the task really holds are written: present
 * or swapped, not the shared zero page, and in a private file mapping only
 * the anonymous copies the task made by writing (the rest is the file's).
 * PAGEMAP_SCAN finds them with one ioctl per area; older kernels get the
 * same answer from /proc/PID/pagemap, read in chunks.
 *
 * The bytes are pulled with process_vm_readv, up to a thousand ranges per
 * call into one buffer, and leave with one writev: no parasite round trip,
 * and our own memory stays the size of two such buffers whatever the
 * task's.  Writing into tmpfs costs several times the reading (every page
 * of the image is a fresh page), so a second thread writes one buffer
 * while the next is read.  Areas the task itself may not read (PROT_NONE,
 * write-only) are read through /proc/PID/mem, which may.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dump.h"
#include "log.h"
#include "mem-hugetlb.h"
#include "mem.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "shmem.h"
#include "vdso.h"

#define PAGE_SZ		4096UL
#define PAGE_SZ_SHIFT	12

/*
 * Pages moved per batch: one process_vm_readv, one writev.  4 MiB keeps
 * the syscall count negligible while the buffer still sits in the cache
 * between the copy in, the zero check and the copy out.
 */
#ifndef XFER_BUF_PAGES
#define XFER_BUF_PAGES	1024
#endif
/* Ranges per batch: one process_vm_readv takes at most IOV_MAX of them. */
#define XFER_MAX_SEGS	1024
/* Regions asked of one PAGEMAP_SCAN call; a larger area takes more calls. */
#define SCAN_REGIONS	1024
/* Pagemap entries read at once when PAGEMAP_SCAN is missing: 64 KiB. */
#define PME_CHUNK	8192

#define PME_PRESENT	(1ULL << 63)
#define PME_SWAP	(1ULL << 62)
#define PME_FILE	(1ULL << 61)
#define PME_GUARD	(1ULL << 58)	/* a guard region: shows as swapped */
#define PME_PFN_MASK	((1ULL << 55) - 1)

#define VDSO_PROT	(PROT_READ | PROT_EXEC)
#define VVAR_PROT	PROT_READ

/* --- small helpers --- */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static int open_proc(pid_t pid, const char *name, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s", path);
		return -errno;
	}
	return fd;
}

/* Read all of a small /proc file into @buf (NUL-terminated); its length or -errno. */
static ssize_t read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
	size_t len = 0;
	int fd = open_proc(pid, name, O_RDONLY);

	if (fd < 0)
		return fd;
	while (len < size - 1) {
		ssize_t r = read(fd, buf + len, size - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pr_perror("cannot read /proc/%d/%s", pid, name);
			close(fd);
			return -errno;
		}
		if (!r)
			break;
		len += r;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

/* --- the task's mm: /proc/PID/stat and auxv --- */

/* Fields of /proc/PID/stat, numbered as proc(5) numbers them. */
#define STAT_START_CODE		26
#define STAT_END_CODE		27
#define STAT_START_STACK	28
#define STAT_START_DATA		45
#define STAT_END_DATA		46
#define STAT_START_BRK		47
#define STAT_ARG_START		48
#define STAT_ARG_END		49
#define STAT_ENV_START		50
#define STAT_ENV_END		51
#define STAT_NR_FIELDS		52

static int read_stat_fields(pid_t pid, unsigned long long *f)
{
	char buf[2048], *p, *end;
	ssize_t len = read_proc(pid, "stat", buf, sizeof(buf));
	int i;

	if (len < 0)
		return len;
	/* The command name may hold anything, ')' included: skip to the last one. */
	p = strrchr(buf, ')');
	if (!p)
		goto bad;
	p++;
	memset(f, 0, STAT_NR_FIELDS * sizeof(*f));
	for (i = 3; i < STAT_NR_FIELDS; i++) {
		while (*p == ' ')
			p++;
		if (!*p)
			goto bad;
		if (i == 3) {		/* the state letter */
			p++;
			continue;
		}
		f[i] = strtoull(p, &end, 10);
		if (end == p)
			goto bad;
		p = end;
	}
	return 0;
bad:
	pr_err("/proc/%d/stat: unexpected format", pid);
	return -EINVAL;
}

static int fill_mm_from_stat(pid_t pid, MmEntry *mm)
{
	unsigned long long f[STAT_NR_FIELDS];
	int ret = read_stat_fields(pid, f);

	if (ret)
		return ret;
	mm->mm_start_code = f[STAT_START_CODE];
	mm->mm_end_code = f[STAT_END_CODE];
	mm->mm_start_data = f[STAT_START_DATA];
	mm->mm_end_data = f[STAT_END_DATA];
	mm->mm_start_stack = f[STAT_START_STACK];
	mm->mm_start_brk = f[STAT_START_BRK];
	mm->mm_arg_start = f[STAT_ARG_START];
	mm->mm_arg_end = f[STAT_ARG_END];
	mm->mm_env_start = f[STAT_ENV_START];
	mm->mm_env_end = f[STAT_ENV_END];
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
	ssize_t len = read_proc(pid, "auxv", buf, sizeof(buf));

	if (len < 0)
		return len;
	mm->n_mm_saved_auxv = len / 8;
	memcpy(words, buf, mm->n_mm_saved_auxv * 8);
	mm->mm_saved_auxv = words;
	return 0;
}

/* Run @nr inside the task through the parasite; 0 and *@res, or -errno. */
static int task_syscall(struct compel_ctl *ctl, long nr, unsigned long a1, long *res)
{
	union compel_rpc_args *args = compel_rpc_area(ctl);
	int ret;

	memset(&args->sys, 0, sizeof(args->sys));
	args->sys.nr = nr;
	args->sys.args[0] = a1;
	ret = compel_rpc(ctl, COMPEL_CMD_SYSCALL);
	if (ret)
		return ret;
	*res = args->sys.ret;
	return 0;
}

/*
 * What only the task can tell: its current brk (stat has only where the
 * heap started), whether it is dumpable and whether THP is off for it.
 */
static int fill_mm_from_task(struct dump_task *t, MmEntry *mm)
{
	long brk, dumpable, thp;
	int ret;

	ret = task_syscall(t->ctl, __NR_brk, 0, &brk);
	if (!ret)
		ret = task_syscall(t->ctl, __NR_prctl, PR_GET_DUMPABLE, &dumpable);
	if (!ret)
		ret = task_syscall(t->ctl, __NR_prctl, PR_GET_THP_DISABLE, &thp);
	if (ret) {
		pr_err("pid %d: cannot read brk, dumpable and THP state", t->pid);
		return ret;
	}
	if (dumpable < 0 || thp < 0) {
		pr_err("pid %d: prctl in the task failed: %s", t->pid,
		       strerror(-(dumpable < 0 ? dumpable : thp)));
		return dumpable < 0 ? dumpable : thp;
	}
	mm->mm_brk = brk;
	mm->has_dumpable = true;
	mm->dumpable = dumpable;
	mm->has_thp_disabled = true;
	mm->thp_disabled = thp != 0;
	return 0;
}

/* --- the areas: /proc/PID/smaps --- */

struct vma_list {
	VmaEntry *v;
	size_t nr, cap;
	/* The last file mapped and its files.img id: libraries map one file many times. */
	dev_t last_dev;
	unsigned long last_ino;
	uint32_t last_id;
};

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
	int n = 0;
	size_t len;
	unsigned long long start, end, pgoff;

	if (sscanf(s, "%llx-%llx %4s %llx %x:%x %lu %n", &start, &end, sv->perms, &pgoff,
		   &sv->maj, &sv->min, &sv->ino, &n) < 7 || !n) {
		pr_err("smaps: cannot parse \"%s\"", s);
		return -EINVAL;
	}
	sv->start = start;
	sv->end = end;
	sv->pgoff = pgoff;
	len = strlen(s + n);
	if (len >= sizeof(sv->name)) {
		pr_err("smaps: name too long at %llx", start);
		return -ENAMETOOLONG;
	}
	memcpy(sv->name, s + n, len + 1);
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
		pr_perror("fstat of a memfd");
		close(fd);
		return -errno;
	}
	close(fd);
	cached = st.st_dev;
	known = true;
	*dev = cached;
	return 0;
}

/*
 * A file-backed area: its file is looked at through map_files (which
 * reaches deleted and unreachable files too) and recorded in files.img;
 * the link's own mode tells how the mapped file was opened.
 */
static int classify_file_vma(struct dump_ctx *ctx, struct dump_task *t, struct vma_list *l,
			     struct smaps_vma *sv, VmaEntry *e, bool *anon)
{
	bool shared = e->flags & MAP_SHARED;
	char link[96];
	struct stat lst, st;
	dev_t shm = 0;
	int ret;

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
	if (stat(link, &st)) {
		pr_perror("cannot stat the file mapped at %" PRIx64 " (%s)", e->start, sv->name);
		return -errno;
	}

	ret = shmem_dev(&shm);
	if (ret)
		return ret;
	if (S_ISREG(st.st_mode) && st.st_dev == shm) {
		if (!strncmp(sv->name, "/SYSV", 5)) {
			pr_err("pid %d: SysV shared memory at %" PRIx64 " is not supported yet",
			       t->pid, e->start);
			return -ENOTSUP;
		}
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
		return 0;
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
	return 0;
}

static int classify_vma(struct dump_ctx *ctx, struct dump_task *t, struct vma_list *l,
			struct smaps_vma *sv, VmaEntry *e)
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
		ret = hugetlb_classify(t->pid, e);
		return ret ? ret : apply_vmflags(t->pid, sv, e);
	}
	if (!anon) {
		if (!strncmp(sv->name, "/[aio]", 6)) {
			pr_err("pid %d: AIO ring at %" PRIx64 " is not supported yet",
			       t->pid, e->start);
			return -ENOTSUP;
		}
		ret = classify_file_vma(ctx, t, l, sv, e, &anon);
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

static int vma_list_add(struct vma_list *l, const VmaEntry *e)
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
			 struct smaps_vma *sv, unsigned long skip)
{
	VmaEntry e;
	int ret;

	if (skip && sv->start <= skip && skip < sv->end)
		return 0;
	if (!sv->has_vmflags) {
		pr_err("smaps: no VmFlags for %" PRIx64 "-%" PRIx64, sv->start, sv->end);
		return -EINVAL;
	}
	ret = classify_vma(ctx, t, l, sv, &e);
	return ret ? ret : vma_list_add(l, &e);
}

static int collect_vmas(struct dump_ctx *ctx, struct dump_task *t, struct vma_list *l)
{
	unsigned long skip = parasite_addr(t);
	struct line_reader r = { .size = 64 << 10 };
	struct smaps_vma *sv;
	bool have = false;
	char *line = NULL;
	int ret;

	sv = malloc(sizeof(*sv));
	r.buf = malloc(r.size);
	r.fd = open_proc(t->pid, "smaps", O_RDONLY);
	ret = !sv || !r.buf ? -ENOMEM : r.fd < 0 ? r.fd : 0;
	while (!ret) {
		ret = read_line(&r, &line);
		if (ret <= 0)
			break;
		ret = 0;
		if (is_range_line(line)) {
			ret = have ? add_smaps_vma(ctx, t, l, sv, skip) : 0;
			if (!ret)
				ret = parse_range_line(line, sv);
			have = !ret;
		} else if (have && !strncmp(line, "VmFlags:", 8)) {
			snprintf(sv->vmflags, sizeof(sv->vmflags), "%s", line + 8);
			sv->has_vmflags = true;
		}
	}
	if (!ret && have)
		ret = add_smaps_vma(ctx, t, l, sv, skip);
	if (r.fd >= 0)
		close(r.fd);
	free(r.buf);
	free(sv);
	return ret;
}

/* --- which pages --- */

/* /proc/PID/pagemap, and what its PAGEMAP_SCAN can do here. */
struct pagemap {
	int fd;
	bool scan;		/* PAGEMAP_SCAN works */
	bool guard;		/* and reports guard regions */
};

/* Whether PAGEMAP_SCAN knows @categories: asked with an empty range. */
static bool pagemap_scan_knows(int fd, uint64_t categories)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.return_mask = categories,
	};

	return ioctl(fd, PAGEMAP_SCAN, &a) >= 0;
}

static int pagemap_open(pid_t pid, struct pagemap *pm)
{
	pm->fd = open_proc(pid, "pagemap", O_RDONLY);
	if (pm->fd < 0)
		return pm->fd;
	if (dump_fault("pagemap-scan"))	/* test the pagemap reader */
		return 0;
	pm->scan = pagemap_scan_knows(pm->fd, PAGE_IS_PRESENT);
	pm->guard = pm->scan && pagemap_scan_knows(pm->fd, PAGE_IS_PRESENT | PAGE_IS_GUARD);
	if (!pm->scan)
		pr_info("pid %d: no PAGEMAP_SCAN, reading pagemap", pid);
	return 0;
}

/*
 * Guard regions (MADV_GUARD_INSTALL) are no areas of their own in the
 * kernel.  CRIU keeps them as extra entries after the real ones, with
 * only VMA_AREA_GUARD set, for its restorer to install them again.
 */
static int collect_guards(pid_t pid, struct pagemap *pm, struct vma_list *l)
{
	struct page_region regs[64];
	uint64_t start = 0, end = 0;
	int ret = 0;

	/* Guards lie in areas: the highest user area bounds the scan. */
	for (size_t i = 0; i < l->nr; i++)
		if (!(l->v[i].status & VMA_AREA_VSYSCALL) && l->v[i].end > end)
			end = l->v[i].end;
	while (!ret && start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = end,
			.vec = (uintptr_t)regs,
			.vec_len = sizeof(regs) / sizeof(regs[0]),
			.category_mask = PAGE_IS_GUARD,
			.return_mask = PAGE_IS_GUARD,
		};
		long n = ioctl(pm->fd, PAGEMAP_SCAN, &a);

		if (n < 0) {
			pr_perror("pid %d: PAGEMAP_SCAN for guard regions", pid);
			return -errno;
		}
		for (long i = 0; !ret && i < n; i++) {
			VmaEntry e;

			vma_entry__init(&e);
			e.start = regs[i].start;
			e.end = regs[i].end;
			e.fd = -1;
			e.status = VMA_AREA_GUARD;
			ret = vma_list_add(l, &e);
		}
		if (!ret && a.walk_end <= start) {
			pr_err("pid %d: PAGEMAP_SCAN made no progress at %" PRIx64, pid, start);
			ret = -EIO;
		}
		start = a.walk_end;
	}
	return ret;
}

/*
 * The zero page's PFN, for /proc/PID/pagemap readers (PAGEMAP_SCAN says
 * PAGE_IS_PFNZERO itself).  0 when PFNs are hidden from us: zero-page
 * mappings are then read like other pages (and the root's zero check
 * still leaves them out).
 */
static uint64_t zero_page_pfn(void)
{
	static uint64_t pfn;
	static bool known;
	volatile char *p;
	uint64_t pme = 0;
	int fd;

	if (known)
		return pfn;
	known = true;
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	(void)p[0];	/* a read fault maps the zero page */
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 &&
	    pread(fd, &pme, sizeof(pme), ((uintptr_t)p >> PAGE_SZ_SHIFT) * 8) == sizeof(pme) &&
	    (pme & PME_PRESENT))
		pfn = pme & PME_PFN_MASK;
	if (fd >= 0)
		close(fd);
	munmap((void *)p, PAGE_SZ);
	return pfn;
}

enum dump_how {
	DUMP_NONE,	/* no pages: shared, the kernel's, or droppable */
	DUMP_SCAN,	/* the pages the task holds */
	DUMP_ALL,	/* every page (vdso: a restore may need to build a proxy of it) */
};

static enum dump_how vma_dump_how(const VmaEntry *e)
{
	if (!(e->status & VMA_AREA_REGULAR) ||
	    !(e->status & (VMA_ANON_PRIVATE | VMA_FILE_PRIVATE)))
		return DUMP_NONE;
	/* vvar is the kernel's live data: the restorer maps the new kernel's. */
	if (e->status & VMA_AREA_VVAR)
		return DUMP_NONE;
	/* The kernel may drop these pages at any time: they are zero to the task. */
	if (e->flags & MAP_DROPPABLE)
		return DUMP_NONE;
	if (e->status & VMA_AREA_VDSO)
		return DUMP_ALL;
	return DUMP_SCAN;
}

/* CRIU's rule for which pages a lazy restore may fault in later. */
static bool vma_can_be_lazy(const VmaEntry *e)
{
	return (e->flags & MAP_ANONYMOUS) && (e->flags & MAP_PRIVATE) &&
	       !(e->flags & (MAP_LOCKED | MAP_HUGETLB)) &&
	       !(e->status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL));
}

/* --- moving them --- */

/* A range of pages of one area, waiting in the batch. */
struct xfer_seg {
	uint64_t vaddr;
	uint32_t nr_pages;
	uint32_t vma;		/* index: pagemap entries never span areas */
	uint32_t pe_flags;
	bool zero_skip;		/* all-zero pages may be left out */
};

/* Buffers between the reading and the writing thread: one filled while one is written. */
#define NR_WBUFS	2

struct wbuf {
	uint8_t *data;			/* XFER_BUF_PAGES pages */
	struct iovec iov[XFER_MAX_SEGS];	/* what of it goes to the image */
	int nr_iov;
};

/*
 * The thread that writes pages-N.img.  Buffers go round in order: the
 * reader fills bufs[filled % NR_WBUFS], the writer empties bufs[done %
 * NR_WBUFS].  The writer logs nothing (the reader reports its error).
 */
struct writer {
	int fd;
	bool threaded;			/* else the reader writes, inline */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wbuf bufs[NR_WBUFS];
	unsigned int filled, done;
	bool stop;
	int err;			/* the first write error, -errno */
	uint64_t write_us;
};

struct xfer {
	pid_t pid;
	int mem_fd;		/* /proc/PID/mem, opened when first needed */
	const struct pagemap *pagemap;
	struct img *pm;
	struct writer w;

	size_t nr_pages;	/* pages in the batch */
	bool force;		/* the batch is read through /proc/PID/mem */
	unsigned int nr_segs;
	struct xfer_seg segs[XFER_MAX_SEGS];
	struct iovec iov[XFER_MAX_SEGS];	/* the batch's ranges in the task */

	/* The pagemap entry being grown. */
	uint64_t pe_vaddr, pe_nr;
	uint32_t pe_flags, pe_vma;

	union {
		struct page_region regs[SCAN_REGIONS];
		uint64_t pme[PME_CHUNK];
	};

	uint64_t scanned, written, zero;
};

static int pe_flush(struct xfer *x)
{
	PagemapEntry pe;
	int ret;

	if (!x->pe_nr)
		return 0;
	pagemap_entry__init(&pe);
	pe.vaddr = x->pe_vaddr;
	pe.compat_nr_pages = 0;		/* CRIU 4 writes nr_pages, and 0 here */
	pe.has_nr_pages = true;
	pe.nr_pages = x->pe_nr;
	pe.has_flags = true;
	pe.flags = x->pe_flags;
	ret = img_write_msg(x->pm, &pe.base);
	x->pe_nr = 0;
	return ret;
}

/* @nr pages at @vaddr go into pages-N.img next: grow the entry or start one. */
static int pe_add(struct xfer *x, uint64_t vaddr, uint64_t nr, uint32_t flags, uint32_t vma)
{
	int ret;

	if (x->pe_nr && x->pe_vma == vma && x->pe_flags == flags &&
	    x->pe_vaddr + x->pe_nr * PAGE_SZ == vaddr) {
		x->pe_nr += nr;
		return 0;
	}
	ret = pe_flush(x);
	x->pe_vaddr = vaddr;
	x->pe_nr = nr;
	x->pe_flags = flags;
	x->pe_vma = vma;
	return ret;
}

static bool page_is_zero(const void *page)
{
	const uint64_t *w = page;
	size_t i;

	/* Pages with data nearly always show it at once: no loop for them. */
	if (w[0] | w[1])
		return false;
	for (i = 0; i < PAGE_SZ / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] |
		    w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	return true;
}

static int open_mem(struct xfer *x)
{
	if (x->mem_fd < 0)
		x->mem_fd = open_proc(x->pid, "mem", O_RDONLY);
	return x->mem_fd < 0 ? x->mem_fd : 0;
}

/*
 * Read the batch from byte @done on through /proc/PID/mem: for areas the
 * task may not read itself, and to finish what process_vm_readv left.
 */
static int read_mem(struct xfer *x, uint8_t *buf, size_t done)
{
	size_t off = 0;
	int ret = open_mem(x);

	for (unsigned int i = 0; !ret && i < x->nr_segs; i++) {
		size_t len = (size_t)x->segs[i].nr_pages * PAGE_SZ;

		while (done < off + len) {
			size_t skip = done - off;
			ssize_t r = pread(x->mem_fd, buf + done, len - skip,
					  x->segs[i].vaddr + skip);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				ret = r < 0 ? -errno : -EIO;
				pr_err("pid %d: cannot read its memory at %" PRIx64 ": %s", x->pid,
				       x->segs[i].vaddr + skip, strerror(-ret));
				break;
			}
			done += r;
		}
		off += len;
	}
	return ret;
}

static int read_batch(struct xfer *x, uint8_t *buf)
{
	size_t total = x->nr_pages * PAGE_SZ;
	struct iovec local = { buf, total };
	ssize_t r;

	if (x->force)
		return read_mem(x, buf, 0);
	for (unsigned int i = 0; i < x->nr_segs; i++) {
		x->iov[i].iov_base = (void *)(uintptr_t)x->segs[i].vaddr;
		x->iov[i].iov_len = (size_t)x->segs[i].nr_pages * PAGE_SZ;
	}
	r = process_vm_readv(x->pid, &local, 1, x->iov, x->nr_segs, 0);
	if (r == (ssize_t)total)
		return 0;
	if (r < 0 && errno != EFAULT) {
		pr_perror("pid %d: process_vm_readv", x->pid);
		return -errno;
	}
	/* A page it could not fault in: /proc/PID/mem tries harder, or says where. */
	return read_mem(x, buf, r < 0 ? 0 : r);
}

/* Write out one buffer's iovecs; 0 or -errno. */
static int write_iovs(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t r = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		while (n && (size_t)r >= iov->iov_len) {
			r -= iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return 0;
}

/* Only the writing thread touches write_us; err is set under the lock. */
static int write_one(struct writer *w, struct wbuf *b)
{
	uint64_t t0 = now_us();
	int ret = write_iovs(w->fd, b->iov, b->nr_iov);

	w->write_us += now_us() - t0;
	return ret;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct wbuf *b;

		while (w->done == w->filled && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->done == w->filled)
			break;
		b = &w->bufs[w->done % NR_WBUFS];
		pthread_mutex_unlock(&w->lock);
		/* After an error the rest is only drained: the dump has failed. */
		if (!ret)
			ret = write_one(w, b);
		pthread_mutex_lock(&w->lock);
		if (ret && !w->err)
			w->err = ret;
		w->done++;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int writer_start(struct writer *w, int fd)
{
	sigset_t all, old;
	uint8_t *mem;

	w->fd = fd;
	mem = mmap(NULL, NR_WBUFS * XFER_BUF_PAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		pr_perror("cannot allocate the page buffers");
		return -ENOMEM;
	}
	for (int i = 0; i < NR_WBUFS; i++)
		w->bufs[i].data = mem + i * XFER_BUF_PAGES * PAGE_SZ;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	/*
	 * The writer takes no signal: they keep going where they went before.
	 * Without a second thread the same work is done in turn: slower, not wrong.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	w->threaded = !pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!w->threaded)
		pr_warn("no writer thread: pages are written inline");
	return 0;
}

/* A buffer to fill, once the writer is done with it; NULL after a write error. */
static struct wbuf *writer_get(struct writer *w)
{
	struct wbuf *b;

	pthread_mutex_lock(&w->lock);
	while (w->filled - w->done == NR_WBUFS && !w->err)
		pthread_cond_wait(&w->cond, &w->lock);
	b = w->err ? NULL : &w->bufs[w->filled % NR_WBUFS];
	pthread_mutex_unlock(&w->lock);
	if (b)
		b->nr_iov = 0;
	return b;
}

static void writer_put(struct writer *w)
{
	if (!w->threaded) {
		struct wbuf *b = &w->bufs[w->filled++ % NR_WBUFS];
		int ret = w->err ? 0 : write_one(w, b);

		if (ret)
			w->err = ret;
		w->done = w->filled;
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->filled++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Wait for every buffer to be written; the first write error, logged. */
static int writer_stop(struct writer *w)
{
	if (!w->bufs[0].data)
		return 0;
	if (w->threaded) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	munmap(w->bufs[0].data, NR_WBUFS * XFER_BUF_PAGES * PAGE_SZ);
	w->bufs[0].data = NULL;
	if (w->err)
		pr_err("pages image: write failed: %s", strerror(-w->err));
	return w->err;
}

/* Queue @nr pages at @vaddr of @buf to be written, as one pagemap range. */
static int emit(struct xfer *x, struct wbuf *b, uint8_t *p, uint64_t vaddr, uint64_t nr,
		const struct xfer_seg *s)
{
	struct iovec *last = b->nr_iov ? &b->iov[b->nr_iov - 1] : NULL;
	size_t len = nr * PAGE_SZ;

	if (last && (uint8_t *)last->iov_base + last->iov_len == p) {
		last->iov_len += len;
	} else {
		b->iov[b->nr_iov].iov_base = p;
		b->iov[b->nr_iov].iov_len = len;
		b->nr_iov++;
	}
	x->written += nr;
	return pe_add(x, vaddr, nr, s->pe_flags, s->vma);
}

/* The pages of one segment, all-zero ones left out where that is allowed. */
static int emit_seg(struct xfer *x, struct wbuf *b, uint8_t *p, const struct xfer_seg *s)
{
	uint64_t i, run = 0;
	int ret = 0;

	if (!s->zero_skip)
		return emit(x, b, p, s->vaddr, s->nr_pages, s);
	for (i = 0; !ret && i < s->nr_pages; i++) {
		if (!page_is_zero(p + i * PAGE_SZ)) {
			run++;
			continue;
		}
		x->zero++;
		if (run)
			ret = emit(x, b, p + (i - run) * PAGE_SZ, s->vaddr + (i - run) * PAGE_SZ,
				   run, s);
		run = 0;
	}
	if (!ret && run)
		ret = emit(x, b, p + (i - run) * PAGE_SZ, s->vaddr + (i - run) * PAGE_SZ, run, s);
	return ret;
}

/* Read the batch into a free buffer, leave out zero pages, hand it to the writer. */
static int flush_batch(struct xfer *x)
{
	struct wbuf *b;
	uint8_t *p;
	int ret;

	if (!x->nr_segs)
		return 0;
	b = writer_get(&x->w);
	if (!b)
		return x->w.err;
	p = b->data;
	ret = read_batch(x, p);
	for (unsigned int i = 0; !ret && i < x->nr_segs; i++) {
		ret = emit_seg(x, b, p, &x->segs[i]);
		p += (size_t)x->segs[i].nr_pages * PAGE_SZ;
	}
	/* Even a failed batch goes round, so that the buffers stay in order. */
	if (ret)
		b->nr_iov = 0;
	writer_put(&x->w);
	x->nr_segs = 0;
	x->nr_pages = 0;
	return ret;
}

static int add_range(struct xfer *x, uint64_t vaddr, uint64_t nr, uint32_t vma,
		     const VmaEntry *e, bool root)
{
	bool force = !(e->prot & PROT_READ);
	struct xfer_seg want = {
		.vma = vma,
		/*
		 * CRIU means to keep the pages under a thread's stack pointer
		 * eager, but its test compares the wrong bits: in its images
		 * every page of an anonymous private area is lazy, and so here.
		 */
		.pe_flags = PE_PRESENT | (vma_can_be_lazy(e) ? PE_LAZY : 0),
		/*
		 * All-zero pages of an anonymous area are left out in the root
		 * task only, where a hole restores as zeroes.  A child's areas
		 * are rebuilt copy-on-write from its parent's, and a restorer
		 * reading a hole there as "the parent's bytes" would bring
		 * those back: a child writes its zero pages.  (Zero-page
		 * mappings are left out in every task, as CRIU does; its
		 * restore drops from a child each page the parent has and the
		 * child's pagemap lacks, which ours must do too to read CRIU's
		 * images right.)  A private file mapping keeps them all: there
		 * a hole means the file's bytes.
		 */
		.zero_skip = root && (e->status & VMA_ANON_PRIVATE) &&
			     !(e->status & VMA_AREA_VDSO),
	};
	int ret;

	while (nr) {
		struct xfer_seg *last = x->nr_segs ? &x->segs[x->nr_segs - 1] : NULL;
		uint64_t n;

		if (x->nr_pages == XFER_BUF_PAGES || (last && x->force != force) ||
		    (x->nr_segs == XFER_MAX_SEGS)) {
			ret = flush_batch(x);
			if (ret)
				return ret;
			last = NULL;
		}
		x->force = force;
		n = XFER_BUF_PAGES - x->nr_pages;
		if (n > nr)
			n = nr;
		if (last && last->vma == vma && last->vaddr + last->nr_pages * PAGE_SZ == vaddr) {
			last->nr_pages += n;
		} else {
			want.vaddr = vaddr;
			want.nr_pages = n;
			x->segs[x->nr_segs++] = want;
		}
		x->nr_pages += n;
		vaddr += n * PAGE_SZ;
		nr -= n;
	}
	return 0;
}

/* The pages of @e the task holds, found with PAGEMAP_SCAN. */
static int scan_vma(struct xfer *x, uint32_t vma, const VmaEntry *e, bool root)
{
	uint64_t start = e->start, skip = PAGE_IS_PFNZERO;
	int ret = 0;

	/* In a private file mapping the file's own pages are the file's. */
	if (e->status & VMA_FILE_PRIVATE)
		skip |= PAGE_IS_FILE;
	/* Guard regions hold no page, and reading one fails. */
	if (x->pagemap->guard)
		skip |= PAGE_IS_GUARD;
	while (!ret && start < e->end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = e->end,
			.vec = (uintptr_t)x->regs,
			.vec_len = SCAN_REGIONS,
			.category_inverted = skip,
			.category_mask = skip,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long n = ioctl(x->pagemap->fd, PAGEMAP_SCAN, &a);

		if (n < 0) {
			ret = -errno;
			pr_perror("pid %d: PAGEMAP_SCAN of %" PRIx64 "-%" PRIx64,
				  x->pid, start, e->end);
			break;
		}
		for (long i = 0; !ret && i < n; i++) {
			uint64_t nr = (x->regs[i].end - x->regs[i].start) / PAGE_SZ;

			ret = add_range(x, x->regs[i].start, nr, vma, e, root);
		}
		if (a.walk_end <= start) {
			pr_err("pid %d: PAGEMAP_SCAN made no progress at %" PRIx64, x->pid, start);
			ret = -EIO;
		}
		start = a.walk_end;
	}
	return ret;
}

/* The same from /proc/PID/pagemap, for kernels without PAGEMAP_SCAN. */
static int scan_vma_pagemap(struct xfer *x, uint32_t vma, const VmaEntry *e, bool root)
{
	bool file = e->status & VMA_FILE_PRIVATE;
	uint64_t zpfn = zero_page_pfn(), addr = e->start, run_start = 0, run = 0;
	int ret = 0;

	while (!ret && addr < e->end) {
		uint64_t nr = (e->end - addr) / PAGE_SZ;
		ssize_t r;

		if (nr > PME_CHUNK)
			nr = PME_CHUNK;
		r = pread(x->pagemap->fd, x->pme, nr * 8, (addr >> PAGE_SZ_SHIFT) * 8);
		if (r != (ssize_t)(nr * 8)) {
			pr_perror("pid %d: cannot read pagemap at %" PRIx64, x->pid, addr);
			return r < 0 ? -errno : -EIO;
		}
		for (uint64_t i = 0; !ret && i < nr; i++, addr += PAGE_SZ) {
			uint64_t pme = x->pme[i];
			bool want = (pme & (PME_PRESENT | PME_SWAP)) && !(pme & PME_GUARD) &&
				    !(file && (pme & PME_FILE)) &&
				    !(zpfn && (pme & PME_PRESENT) && (pme & PME_PFN_MASK) == zpfn);

			if (want && !run)
				run_start = addr;
			if (want) {
				run++;
				continue;
			}
			if (run)
				ret = add_range(x, run_start, run, vma, e, root);
			run = 0;
		}
	}
	if (!ret && run)
		ret = add_range(x, run_start, run, vma, e, root);
	return ret;
}

static int dump_vma_pages(struct xfer *x, const struct vma_list *l, bool root)
{
	int ret = 0;

	for (uint32_t i = 0; !ret && i < l->nr; i++) {
		const VmaEntry *e = &l->v[i];

		switch (vma_dump_how(e)) {
		case DUMP_NONE:
			continue;
		case DUMP_ALL:
			ret = add_range(x, e->start, (e->end - e->start) / PAGE_SZ, i, e, root);
			break;
		case DUMP_SCAN:
			if (x->pagemap->scan)
				ret = scan_vma(x, i, e, root);
			else
				ret = scan_vma_pagemap(x, i, e, root);
			break;
		}
		x->scanned += (e->end - e->start) / PAGE_SZ;
	}
	if (!ret)
		ret = flush_batch(x);
	if (!ret)
		ret = pe_flush(x);
	return ret;
}

static int open_pages_img(struct dump_ctx *ctx, uint32_t id)
{
	char name[64];
	int fd;

	/* pages-N.img has no header: written straight, past the image layer's buffer. */
	snprintf(name, sizeof(name), "pages-%u.img", id);
	fd = img_openat(ctx->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0 && fd != -EINVAL && fd != -ELOOP)
		pr_err("%s: cannot open: %s", name, strerror(-fd));
	return fd;
}

static int dump_pages(struct dump_ctx *ctx, struct dump_task *t, const struct vma_list *l,
		      const struct pagemap *pagemap)
{
	struct xfer *x = calloc(1, sizeof(*x));
	int ret, pages_fd = -1;
	uint64_t t0 = now_us();
	PagemapHead head;

	if (!x)
		return -ENOMEM;
	x->pid = t->pid;
	x->mem_fd = -1;
	x->pagemap = pagemap;
	pagemap_head__init(&head);
	head.pages_id = ++ctx->last_pages_id;

	pages_fd = open_pages_img(ctx, head.pages_id);
	ret = pages_fd < 0 ? pages_fd : 0;
	if (!ret)
		ret = img_open(&x->pm, ctx->dirfd, IMG_PAGEMAP, t->pid, O_WRONLY);
	if (!ret)
		ret = img_write_msg(x->pm, &head.base);
	if (!ret)
		ret = writer_start(&x->w, pages_fd);
	if (!ret)
		ret = dump_vma_pages(x, l, t == &ctx->tasks[0]);

	ret = writer_stop(&x->w) ? : ret;
	if (x->pm)
		ret = img_close(x->pm) ? : ret;
	if (pages_fd >= 0 && close(pages_fd) && !ret) {
		pr_perror("pages-%u.img: close failed", head.pages_id);
		ret = -errno;
	}
	if (x->mem_fd >= 0)
		close(x->mem_fd);

	ctx->stats.pages_scanned += x->scanned;
	ctx->stats.pages_written += x->written;
	ctx->stats.pages_zero += x->zero;
	/* As CRIU counts them: the pages' time, from finding them to written. */
	ctx->stats.memdump_time += now_us() - t0;
	ctx->stats.memwrite_time += x->w.write_us;
	pr_info("pid %d: %" PRIu64 " pages written, %" PRIu64 " zero pages left out", t->pid,
		x->written, x->zero);
	free(x);
	return ret;
}

/* --- the task --- */

static int write_mm(struct dump_ctx *ctx, struct dump_task *t, MmEntry *mm,
		    const struct vma_list *l)
{
	struct img *img;
	int ret;

	mm->n_vmas = l->nr;
	mm->vmas = calloc(l->nr ? l->nr : 1, sizeof(*mm->vmas));
	if (!mm->vmas)
		return -ENOMEM;
	for (size_t i = 0; i < l->nr; i++)
		mm->vmas[i] = &l->v[i];
	ret = img_open(&img, ctx->dirfd, IMG_MM, t->pid, O_WRONLY);
	if (!ret) {
		ret = img_write_msg(img, &mm->base);
		ret = img_close(img) ? : ret;
	}
	free(mm->vmas);
	mm->vmas = NULL;
	return ret;
}

static int fill_mm(struct dump_ctx *ctx, struct dump_task *t, MmEntry *mm, uint64_t *auxv,
		   const struct vma_list *l)
{
	char exe[64];
	int ret;

	ret = fill_mm_from_stat(t->pid, mm);
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
	snprintf(exe, sizeof(exe), "/proc/%d/exe", t->pid);
	ret = files_dump_path(ctx, t, exe, O_RDONLY, &t->exe_file_id);
	mm->exe_file_id = t->exe_file_id;
	return ret;
}

int mem_dump_task(struct dump_ctx *ctx, struct dump_task *t)
{
	uint64_t auxv[MM_AUXV_WORDS_MAX];
	struct pagemap pagemap = { .fd = -1 };
	struct vma_list l = { 0 };
	MmEntry mm;
	int ret;

	mm_entry__init(&mm);
	ret = collect_vmas(ctx, t, &l);
	if (!ret)
		ret = pagemap_open(t->pid, &pagemap);
	if (!ret && pagemap.guard)
		ret = collect_guards(t->pid, &pagemap, &l);
	if (!ret)
		ret = fill_mm(ctx, t, &mm, auxv, &l);
	if (!ret)
		ret = dump_pages(ctx, t, &l, &pagemap);
	if (!ret)
		ret = write_mm(ctx, t, &mm, &l);
	if (pagemap.fd >= 0)
		close(pagemap.fd);
	free(l.v);
	if (ret)
		pr_err("pid %d: memory dump failed", t->pid);
	return ret;
}
