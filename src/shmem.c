/*
 * shmem.c - the contents of a shmem object (a memfd, shared anonymous
 * memory), dumped once per object.
 *
 * pagemap-shmem-<shmid>.img starts with the id of its pages image, as a
 * task's pagemap does; its entries give offsets in the object instead of
 * addresses, and the pages follow in that order in pages-<id>.img.
 *
 * The object is read through a file of our own on it, not through a
 * task: pread() of a shmem file needs no mapping, sees the pages every
 * user shares, and reads a hole as zeroes without filling it.  lseek()
 * with SEEK_DATA and SEEK_HOLE finds the pages the object holds (in
 * memory or swapped); of those, pages that are all zeroes are left out
 * too, since a restore reads what is not in the image as zeroes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "log.h"
#include "page-xfer.h"
#include "pagemap.pb-c.h"
#include "rst-ctx.h"
#include "shmem.h"

#define SHM_PAGE	4096UL
/* Pages read at once: large enough for few syscalls, small enough to stay cached. */
#define SHM_BUF_PAGES	256
/* As mem.h's PE_*: in the parent images, restored on demand, in the pages image. */
#define SHM_PE_PARENT	(1u << 0)
#define SHM_PE_LAZY	(1u << 1)
#define SHM_PE_PRESENT	(1u << 2)

struct shmem_dump {
	int fd;
	const uint8_t *mem;	/* or the object mapped here, when it has no read(2) */
	uint64_t shmid, size;
	struct page_xfer px;
	uint8_t *buf;
	struct page_run runs[SHM_BUF_PAGES];

	uint64_t written, zero;
};

static bool page_is_zero(const uint8_t *page)
{
	const uint64_t *w = (const uint64_t *)page;

	for (size_t i = 0; i < SHM_PAGE / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}

/* Read @len bytes at @off into the buffer; past the end of the file reads zeroes. */
static int read_chunk(struct shmem_dump *d, uint64_t off, size_t len)
{
	size_t done = 0;

	if (d->mem) {
		done = off < d->size ? (d->size - off < len ? d->size - off : len) : 0;
		memcpy(d->buf, d->mem + off, done);
	}
	while (!d->mem && done < len) {
		ssize_t r = pread(d->fd, d->buf + done, len - done, off + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pr_perror("shmem %#" PRIx64 ": cannot read at %#" PRIx64, d->shmid,
				  off + done);
			return -errno;
		}
		if (!r)
			break;
		done += r;
	}
	/* The object's last page may be partial: the rest of it is zeroes. */
	memset(d->buf + done, 0, len - done);
	return 0;
}

/* The pages of [@start, @end), both page-aligned, that are not all zeroes. */
static int dump_range(struct shmem_dump *d, uint64_t start, uint64_t end)
{
	int ret = 0;

	while (!ret && start < end) {
		size_t len = end - start;
		unsigned int n = 0;

		if (len > SHM_BUF_PAGES * SHM_PAGE)
			len = SHM_BUF_PAGES * SHM_PAGE;
		ret = read_chunk(d, start, len);
		for (size_t i = 0; !ret && i < len; i += SHM_PAGE) {
			struct page_run *last = n ? &d->runs[n - 1] : NULL;

			if (page_is_zero(d->buf + i)) {
				d->zero++;
				continue;
			}
			d->written++;
			if (last && last->vaddr + last->nr_pages * SHM_PAGE == start + i) {
				last->nr_pages++;
				continue;
			}
			d->runs[n++] = (struct page_run){
				.vaddr = start + i,
				.nr_pages = 1,
				.flags = SHM_PE_PRESENT,
				.data = d->buf + i,
			};
		}
		if (!ret && n)
			ret = d->px.ops->write(&d->px, d->runs, n);
		start += len;
	}
	return ret;
}

/*
 * The next run of data at or after @off: [*@data, *@hole), page-aligned
 * and within the object; *@data is the object's end when none is left.
 */
static int next_data(struct shmem_dump *d, uint64_t off, uint64_t *data, uint64_t *hole)
{
	uint64_t end = (d->size + SHM_PAGE - 1) & ~(SHM_PAGE - 1);
	off_t r;

	r = lseek(d->fd, off, SEEK_DATA);
	if (r < 0 && errno == ENXIO) {
		*data = *hole = end;
		return 0;
	}
	if (r < 0) {
		pr_perror("shmem %#" PRIx64 ": SEEK_DATA at %#" PRIx64, d->shmid, off);
		return -errno;
	}
	*data = r & ~(SHM_PAGE - 1);
	r = lseek(d->fd, r, SEEK_HOLE);
	if (r < 0) {
		pr_perror("shmem %#" PRIx64 ": SEEK_HOLE at %#" PRIx64, d->shmid, *data);
		return -errno;
	}
	*hole = ((uint64_t)r + SHM_PAGE - 1) & ~(SHM_PAGE - 1);
	if (*hole > end)
		*hole = end;
	if (*data > end)
		*data = end;
	return 0;
}

static int dump_object(struct shmem_dump *d)
{
	uint64_t off = 0, data = 0, hole = 0;
	int ret = 0;

	/* A mapping tells no holes: every page is read, zero ones left out. */
	if (d->mem)
		ret = dump_range(d, 0, (d->size + SHM_PAGE - 1) & ~(SHM_PAGE - 1));
	while (!d->mem && !ret && off < d->size) {
		ret = next_data(d, off, &data, &hole);
		if (ret || data >= hole)
			break;
		ret = dump_range(d, data, hole);
		off = hole;
	}
	return ret;
}

static int dump_contents(struct dump_ctx *ctx, const struct shmem_dump *dd)
{
	uint64_t shmid = dd->shmid, size = dd->size;
	struct shmem_dump *d;
	int ret;

	if (!size)
		return 0;
	d = calloc(1, sizeof(*d));
	if (d)
		d->buf = malloc(SHM_BUF_PAGES * SHM_PAGE);
	if (!d || !d->buf) {
		free(d);
		pr_err("out of memory");
		return -ENOMEM;
	}
	d->fd = dd->fd;
	d->mem = dd->mem;
	d->shmid = shmid;
	d->size = size;
	ret = page_xfer_open(&d->px, &ctx->pages, PAGE_XFER_SHMEM, shmid);
	if (!ret)
		ret = dump_object(d);
	if (d->px.ops)
		ret = d->px.ops->close(&d->px) ? : ret;
	free(d->buf);
	if (ret) {
		free(d);
		pr_err("shmem %#" PRIx64 ": contents not dumped", shmid);
		return ret;
	}
	/* Every page of the object counts as scanned, holes too, as CRIU counts. */
	ctx->stats.shpages_scanned += (size + SHM_PAGE - 1) / SHM_PAGE;
	ctx->stats.shpages_written += d->written;
	ctx->stats.shpages_zero += d->zero;
	pr_info("shmem %#" PRIx64 ": %" PRIu64 " bytes, %" PRIu64 " pages written, %" PRIu64
		" zero pages left out", shmid, size, d->written, d->zero);
	free(d);
	return 0;
}

int shmem_dump_contents(struct dump_ctx *ctx, int fd, uint64_t shmid, uint64_t size)
{
	struct shmem_dump d = { .fd = fd, .shmid = shmid, .size = size };

	return dump_contents(ctx, &d);
}

int shmem_dump_mem(struct dump_ctx *ctx, const void *mem, uint64_t shmid, uint64_t size)
{
	struct shmem_dump d = { .fd = -1, .mem = mem, .shmid = shmid, .size = size };

	return dump_contents(ctx, &d);
}

/* --- restore --- */

struct shmem_restore {
	int fd;
	uint64_t shmid, size;
	struct img *pages;
	uint8_t *buf;
	uint8_t *map;		/* the object mapped, when it cannot be written to */
};

static int pwrite_full(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pwrite(fd, buf + done, len - done, off + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += r;
	}
	return 0;
}

/* @nr pages from the pages image to offset @off; what lies past the end is dropped. */
static int restore_pages(struct shmem_restore *r, uint64_t off, uint64_t nr)
{
	int ret;

	while (nr) {
		uint64_t n = nr < SHM_BUF_PAGES ? nr : SHM_BUF_PAGES;
		size_t len = n * SHM_PAGE, put = 0;

		ret = img_read_raw(r->pages, r->buf, len);
		if (ret)
			return ret;
		if (off < r->size)
			put = r->size - off < len ? r->size - off : len;
		if (r->map && put)
			memcpy(r->map + off, r->buf, put);
		ret = r->map || !put ? 0 : pwrite_full(r->fd, r->buf, put, off);
		if (ret) {
			pr_err("shmem %#" PRIx64 ": cannot write at %#" PRIx64 ": %s", r->shmid, off,
			       strerror(-ret));
			return ret;
		}
		off += len;
		nr -= n;
	}
	return 0;
}

static int restore_entry(struct shmem_restore *r, const PagemapEntry *pe)
{
	uint64_t nr = pe->has_nr_pages ? pe->nr_pages : pe->compat_nr_pages;
	uint32_t flags = pe->has_flags ? pe->flags : pe->in_parent ? SHM_PE_PARENT : SHM_PE_PRESENT;

	if (flags & SHM_PE_PARENT) {
		pr_err("unsupported: shmem %#" PRIx64 ": pages at %#" PRIx64 " are in a parent image",
		       r->shmid, pe->vaddr);
		return -ENOTSUP;
	}
	if (!(flags & SHM_PE_PRESENT) && (flags & SHM_PE_LAZY)) {
		pr_err("unsupported: shmem %#" PRIx64 ": pages at %#" PRIx64 " are to be restored lazily",
		       r->shmid, pe->vaddr);
		return -ENOTSUP;
	}
	if (!(flags & SHM_PE_PRESENT))
		return 0;
	if (pe->vaddr % SHM_PAGE || nr > (UINT64_MAX - pe->vaddr) / SHM_PAGE) {
		pr_err("shmem %#" PRIx64 ": bad pagemap entry: %" PRIu64 " pages at %#" PRIx64,
		       r->shmid, nr, pe->vaddr);
		return -EINVAL;
	}
	return restore_pages(r, pe->vaddr, nr);
}

static int restore_object(struct rst_ctx *ctx, struct shmem_restore *r, struct img *pm)
{
	ProtobufCMessage *msg;
	uint32_t pages_id;
	int ret;

	ret = img_read_msg(pm, &pagemap_head__descriptor, &msg);
	if (ret == 0) {
		pr_err("%s: no pagemap head", img_name(pm));
		return -EINVAL;
	}
	if (ret < 0)
		return ret;
	pages_id = ((PagemapHead *)msg)->pages_id;
	img_free_msg(msg);
	ret = img_open(&r->pages, ctx->dirfd, IMG_PAGES, pages_id, O_RDONLY);
	if (ret == -ENOENT)
		pr_err("pages-%u.img: missing, named by %s", pages_id, img_name(pm));
	if (ret)
		return ret;
	while ((ret = img_read_msg(pm, &pagemap_entry__descriptor, &msg)) == 1) {
		ret = restore_entry(r, (PagemapEntry *)msg);
		img_free_msg(msg);
		if (ret)
			break;
	}
	img_close(r->pages);
	return ret < 0 ? ret : 0;
}

/*
 * hugetlbfs has no write(2): a hugetlb object is filled through a shared
 * mapping of it, which takes its huge pages from the pool at once (an
 * error here, not a SIGBUS later, when the pool has too few).
 */
static int map_if_hugetlb(struct shmem_restore *r)
{
	struct statfs sfs;
	void *p;

	if (fstatfs(r->fd, &sfs)) {
		pr_perror("shmem %#" PRIx64 ": cannot tell its file system", r->shmid);
		return -errno;
	}
	if (sfs.f_type != HUGETLBFS_MAGIC || !r->size)
		return 0;
	if (r->size > SIZE_MAX) {
		pr_err("shmem %#" PRIx64 ": %" PRIu64 " bytes cannot be mapped", r->shmid, r->size);
		return -EFBIG;
	}
	p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (p == MAP_FAILED) {
		pr_perror("shmem %#" PRIx64 ": cannot map its %" PRIu64 " bytes of huge pages "
			  "(free huge pages: /proc/sys/vm/nr_hugepages)", r->shmid, r->size);
		return -errno;
	}
	r->map = p;
	return 0;
}

static int restore_contents(struct rst_ctx *ctx, struct shmem_restore *rr)
{
	struct shmem_restore r = *rr;
	uint64_t shmid = r.shmid;
	bool mapped = r.map != NULL;
	struct img *pm;
	int ret;

	ret = img_open(&pm, ctx->dirfd, IMG_SHMEM_PAGEMAP, shmid, O_RDONLY);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	r.buf = malloc(SHM_BUF_PAGES * SHM_PAGE);
	if (!r.buf) {
		pr_err("out of memory");
		ret = -ENOMEM;
	} else {
		ret = mapped ? 0 : map_if_hugetlb(&r);
		if (!ret)
			ret = restore_object(ctx, &r, pm);
	}
	if (r.map && !mapped)
		munmap(r.map, r.size);
	free(r.buf);
	img_close(pm);
	if (ret)
		pr_err("shmem %#" PRIx64 ": contents not restored", shmid);
	return ret;
}

int shmem_restore_contents(struct rst_ctx *ctx, int fd, uint64_t shmid, uint64_t size)
{
	struct shmem_restore r = { .fd = fd, .shmid = shmid, .size = size };

	return restore_contents(ctx, &r);
}

int shmem_restore_mem(struct rst_ctx *ctx, void *mem, uint64_t shmid, uint64_t size)
{
	struct shmem_restore r = { .fd = -1, .shmid = shmid, .size = size, .map = mem };

	return restore_contents(ctx, &r);
}
