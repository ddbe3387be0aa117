/*
 * ps-lazy.c - `stasis page-server --lazy-pages`: the page server a remote
 * lazy-pages daemon (`lazy-pages --page-server`) fetches pages from, as
 * ZDTM's --remote-lazy-pages runs it: it serves PS_IOV_GET (ps-proto.h)
 * from the dump's images in its -D, the lazy pages (PE_LAZY) of each
 * task's pagemap, until the daemon closes the connection.
 *
 * The answer to GET (nr, vaddr, pid) is an ADD_F header with PE_PRESENT
 * and the number of pages found from vaddr on (at most nr, never past the
 * run that holds vaddr; 0: none), then their bytes.
 *
 * `dump --lazy-pages` serves the same way from a lazy store: the lazy
 * pages the dump kept in its own memory (a memfd) instead of the images.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "mem.h"
#include "page-server.h"
#include "pagemap.pb-c.h"
#include "ps-proto.h"
#include "tls.h"

#define PAGE_SZ		4096UL
#define MAX_TASKS	4096

/* Lazy pages at [vaddr, end), at off in the task's pages image. */
struct psl_run {
	uint64_t vaddr, end, off;
};

struct psl_task {
	pid_t pid;
	int pages_fd;			/* the store's, not ours to close, with a store */
	struct psl_run *runs;
	size_t nr;
};

static int add_run(struct psl_task *t, uint64_t vaddr, uint64_t end, uint64_t off)
{
	struct psl_run *r = t->runs;

	if (t->nr && r[t->nr - 1].end == vaddr && r[t->nr - 1].off + (vaddr - r[t->nr - 1].vaddr) == off) {
		r[t->nr - 1].end = end;
		return 0;
	}
	r = realloc(t->runs, (t->nr + 1) * sizeof(*r));

	if (!r)
		return -ENOMEM;
	t->runs = r;
	r[t->nr++] = (struct psl_run){ vaddr, end, off };
	return 0;
}

static int load(int dirfd, struct psl_task *t)
{
	PagemapHead *head = NULL;
	PagemapEntry *pe;
	uint64_t off = 0;
	struct img *img;
	char name[64];
	int ret;

	ret = img_open(&img, dirfd, IMG_PAGEMAP, t->pid, O_RDONLY);
	if (ret) {
		pr_err("page server: asked for pid %d, which has no pagemap here", t->pid);
		return ret;
	}
	ret = img_read_msg(img, &pagemap_head__descriptor, (ProtobufCMessage **)&head);
	if (ret > 0) {
		snprintf(name, sizeof(name), "pages-%u.img", head->pages_id);
		img_free_msg(&head->base);
		while ((ret = img_read_msg(img, &pagemap_entry__descriptor,
					   (ProtobufCMessage **)&pe)) > 0) {
			uint64_t len = (uint64_t)pe->nr_pages * PAGE_SZ;
			uint32_t flags = pe->has_flags ? pe->flags : PE_PRESENT;

			ret = 0;
			if ((flags & PE_PRESENT) && (flags & PE_LAZY))
				ret = add_run(t, pe->vaddr, pe->vaddr + len, off);
			if (flags & PE_PRESENT)
				off += len;
			img_free_msg(&pe->base);
			if (ret)
				break;
		}
	}
	img_close(img);
	if (ret < 0)
		return ret;
	t->pages_fd = off ? img_openat(dirfd, name, O_RDONLY) : -1;
	if (off && t->pages_fd < 0) {
		pr_err("page server: cannot open %s: %s", name, strerror(-t->pages_fd));
		return t->pages_fd;
	}
	return 0;
}

static struct psl_task *task_of(int dirfd, struct psl_task *tasks, size_t *nr, pid_t pid)
{
	struct psl_task *t;

	for (size_t i = 0; i < *nr; i++) {
		if (tasks[i].pid == pid)
			return &tasks[i];
	}
	if (*nr == MAX_TASKS || pid <= 0 || dirfd < 0)
		return NULL;
	t = &tasks[(*nr)++];
	*t = (struct psl_task){ .pid = pid, .pages_fd = -1 };
	return load(dirfd, t) ? NULL : t;
}

static int answer_get(int sk, int dirfd, struct psl_task *tasks, size_t *nr, struct ps_iov *pi)
{
	struct psl_task *t = task_of(dirfd, tasks, nr, (pid_t)pi->dst_id);
	const struct psl_run *r = NULL;
	off_t off = 0;
	uint64_t n = 0, len;
	int ret;

	for (size_t i = 0; t && i < t->nr; i++) {
		if (pi->vaddr >= t->runs[i].vaddr && pi->vaddr < t->runs[i].end)
			r = &t->runs[i];
	}
	if (r) {
		n = (r->end - pi->vaddr) / PAGE_SZ;
		if (n > pi->nr_pages)
			n = pi->nr_pages;
		off = r->off + (pi->vaddr - r->vaddr);
	} else {
		pr_warn("page server: pid %d has no lazy page at %#" PRIx64,
			(int)pi->dst_id, (uint64_t)pi->vaddr);
	}
	pi->cmd = PS_IOV_ADD_F | PE_PRESENT << PS_CMD_BITS;
	pi->nr_pages = n;
	ret = ps_sk_send(sk, pi, sizeof(*pi));
	len = n * PAGE_SZ;
	if (!ret && len)
		ret = ps_sk_sendfile(sk, t->pages_fd, &off, len);
	if (ret)
		pr_err("page server: cannot send pid %d's pages: %s", (int)pi->dst_id, strerror(-ret));
	return ret;
}

/* Serve @sk from @tasks[*@nr] (a store's), or from the images in @dirfd. */
static int serve(int sk, int dirfd, struct psl_task *tasks, size_t *nr)
{
	uint64_t gets = 0;
	int ret = 0, one = 1;

	setsockopt(sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (!ret) {
		struct ps_iov pi;
		ssize_t n = ps_sk_recv(sk, &pi, sizeof(pi));

		if (n == 0)
			break;	/* the daemon has every page */
		if (n != sizeof(pi)) {
			pr_err("page server: reading a request: %s",
			       n < 0 ? strerror(-n) : "the connection ended in it");
			ret = -EIO;
		} else if (pi.cmd == PS_IOV_CLOSE || pi.cmd == PS_IOV_FORCE_CLOSE) {
			int32_t status = 0;

			/* CRIU's daemon says goodbye, and waits for the answer. */
			ret = ps_sk_send(sk, &status, sizeof(status));
			break;
		} else if ((pi.cmd & PS_CMD_MASK) != PS_IOV_GET) {
			pr_err("page server --lazy-pages: unexpected command %#x", pi.cmd);
			ret = -EINVAL;
		} else {
			ret = answer_get(sk, dirfd, tasks, nr, &pi);
			gets++;
		}
	}
	pr_info("page server: %" PRIu64 " requests for lazy pages answered", gets);
	return ret;
}

int ps_lazy_serve(int sk, int dirfd)
{
	struct psl_task *tasks = calloc(MAX_TASKS, sizeof(*tasks));
	size_t nr = 0;
	int ret = tasks ? serve(sk, dirfd, tasks, &nr) : -ENOMEM;

	for (size_t i = 0; i < nr; i++) {
		if (tasks[i].pages_fd >= 0)
			close(tasks[i].pages_fd);
		free(tasks[i].runs);
	}
	free(tasks);
	return ret;
}

/* --- the lazy store of dump --lazy-pages --- */

struct lazy_store {
	int fd;				/* memfd: the pages, one after the other */
	uint64_t size;
	struct psl_task *tasks;
	size_t nr;
};

int lazy_store_open(struct lazy_store **out)
{
	struct lazy_store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->tasks = calloc(MAX_TASKS, sizeof(*s->tasks));
	s->fd = memfd_create("stasis-lazy-pages", MFD_CLOEXEC);
	if (!s->tasks || s->fd < 0) {
		pr_perror("dump --lazy-pages: cannot make the lazy store");
		lazy_store_close(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

int lazy_store_add(struct lazy_store *s, pid_t pid, uint64_t vaddr, const void *data, uint64_t len)
{
	struct psl_task *t = NULL;
	uint64_t off = s->size;

	for (size_t i = 0; i < s->nr && !t; i++) {
		if (s->tasks[i].pid == pid)
			t = &s->tasks[i];
	}
	if (!t) {
		if (s->nr == MAX_TASKS)
			return -E2BIG;
		t = &s->tasks[s->nr++];
		*t = (struct psl_task){ .pid = pid, .pages_fd = s->fd };
	}
	for (uint64_t done = 0; done < len;) {
		ssize_t n = pwrite(s->fd, (const char *)data + done, len - done, off + done);

		if (n <= 0) {
			pr_perror("dump --lazy-pages: cannot keep pages in the lazy store");
			return n < 0 ? -errno : -EIO;
		}
		done += n;
	}
	s->size += len;
	return add_run(t, vaddr, vaddr + len, off);
}

uint64_t lazy_store_pages(const struct lazy_store *s)
{
	return s ? s->size / PAGE_SZ : 0;
}

int lazy_store_serve(struct lazy_store *s, int sk)
{
	return serve(sk, -1, s->tasks, &s->nr);
}

void lazy_store_close(struct lazy_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->tasks && i < s->nr; i++)
		free(s->tasks[i].runs);
	free(s->tasks);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* --- dump --lazy-pages --- */

int lazy_dump_open(const struct opts *o, struct lazy_store **s)
{
	if (o->port <= 0) {
		pr_err("dump --lazy-pages needs --port (and --address) to serve its pages on");
		return -EINVAL;
	}
	return lazy_store_open(s);
}

/*
 * The dump is over (@ret), its tree gone: serve what it kept to one
 * lazy-pages daemon, as CRIU's dump --lazy-pages does, until it closes.
 */
int lazy_dump_serve(const struct opts *o, struct lazy_store *s, int ret)
{
	int lsk, sk;

	if (!s)
		return ret;
	/*
	 * The killed tree's ends come to us, its tracer, first: taken now,
	 * they reach its parent, and its pids are free for a restore here.
	 */
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
	if (!ret) {
		pr_info("dump --lazy-pages: %" PRIu64 " pages kept for the lazy-pages daemon",
			lazy_store_pages(s));
		lsk = server_listen(o);
		ret = lsk < 0 ? lsk : server_status_ready(o);
		if (!ret) {
			do
				sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
			while (sk < 0 && errno == EINTR);
			ret = sk < 0 ? -errno : tls_attach(o, sk, true) ?: lazy_store_serve(s, sk);
			if (sk >= 0)
				ps_sk_close(sk, !ret);
		}
		if (lsk >= 0)
			close(lsk);
		if (ret)
			pr_err("dump --lazy-pages: serving the pages failed");
	}
	lazy_store_close(s);
	return ret;
}
