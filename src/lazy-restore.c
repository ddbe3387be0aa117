/*
 * lazy-restore.c - restore --lazy-pages, the restore's side (lazy.h).
 *
 * The controller connects to the lazy-pages daemon before anything is
 * made, so that a missing daemon fails the restore at once.  Each task
 * makes its own userfaultfd (a userfaultfd belongs to the mm it is made
 * in, and the restorer keeps that mm), hands it to the daemon with its
 * pid, and passes it to the restorer, which registers the lazy areas
 * once the other pages are in and closes it.  mem-restore.c leaves the
 * lazy pages out of what the restorer reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "lazy.h"
#include "log.h"
#include "parts.h"
#include "restorer.h"

static int lazy_sk = -1;		/* to the daemon: a pool fd once prepared */
static int32_t *sk_lock_word;		/* shared: one task at a time on the socket */
static uint64_t uffd_features;		/* the events this kernel reports */
static int task_uffd = -1;		/* in a task: its userfaultfd */

int lazy_sock_addr(const char *dir, struct sockaddr_un *sun, int *dirfd)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	*dirfd = -1;
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", dir,
			     LAZY_SOCK_NAME) < sizeof(sun->sun_path))
		return 0;
	*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0) {
		pr_perror("cannot open the work directory %s", dir);
		return -errno;
	}
	snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/self/fd/%d/%s", *dirfd,
		 LAZY_SOCK_NAME);
	return 0;
}

/* Which of the events CRIU's daemon follows this kernel has: one probe. */
static int probe_features(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0) {
		pr_perror("restore --lazy-pages: no userfaultfd here");
		return -errno;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		pr_perror("restore --lazy-pages: UFFDIO_API");
		close(fd);
		return -errno;
	}
	close(fd);
	uffd_features = api.features & LAZY_UFFD_EVENTS;
	if (uffd_features != LAZY_UFFD_EVENTS)
		pr_warn("restore --lazy-pages: this kernel misses some userfaultfd events "
			"(%#llx of %#llx): fork/mremap/munmap of lazy areas are not followed",
			(unsigned long long)uffd_features, (unsigned long long)LAZY_UFFD_EVENTS);
	return 0;
}

/* In the controller, before the namespaces: the daemon must be there. */
static int lazy_collect(struct rst_ctx *ctx)
{
	const struct opts *o = ctx->opts;
	const char *dir = o->work_dir ? o->work_dir : o->images_dir;
	struct sockaddr_un sun;
	int ret, dirfd;

	if (!o->lazy_pages)
		return 0;
	ret = probe_features() ?: lazy_sock_addr(dir, &sun, &dirfd);
	if (ret)
		return ret;
	sk_lock_word = mmap(NULL, sizeof(*sk_lock_word), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	lazy_sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk_lock_word == MAP_FAILED || lazy_sk < 0) {
		ret = -errno;
		sk_lock_word = NULL;
	} else if (connect(lazy_sk, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		pr_err("restore --lazy-pages: no lazy-pages daemon listens on %s/%s (%s); "
		       "start `stasis lazy-pages -D %s` first", dir, LAZY_SOCK_NAME,
		       strerror(errno), o->images_dir);
	}
	if (dirfd >= 0)
		close(dirfd);
	return ret;
}

static void sk_lock(void)
{
	while (__atomic_exchange_n(sk_lock_word, 1, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, sk_lock_word, FUTEX_WAIT, 1, NULL, NULL, 0);
}

static void sk_unlock(void)
{
	__atomic_store_n(sk_lock_word, 0, __ATOMIC_RELEASE);
	syscall(SYS_futex, sk_lock_word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int send_all(const void *buf, size_t len)
{
	ssize_t n = send(lazy_sk, buf, len, MSG_NOSIGNAL);

	if (n == (ssize_t)len)
		return 0;
	pr_perror("cannot talk to the lazy-pages daemon");
	return n < 0 ? -errno : -EPIPE;
}

/* The fd, with one byte, as CRIU's daemon takes it. */
static int send_fd(int fd)
{
	char byte = 0, buf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(lazy_sk, &mh, MSG_NOSIGNAL) == 1)
		return 0;
	pr_perror("cannot hand a userfaultfd to the lazy-pages daemon");
	return -errno ?: -EPIPE;
}

/* One task's announcement: pid and userfaultfd, or a zombie's -pid alone. */
static int announce(pid_t pid, int uffd)
{
	int32_t id = uffd < 0 ? -pid : pid;
	int ret;

	sk_lock();
	ret = send_all(&id, sizeof(id));
	if (!ret && uffd >= 0)
		ret = send_fd(uffd);
	sk_unlock();
	return ret;
}

/* Inside the namespaces: the socket goes to the pool, every task inherits it. */
static int lazy_prepare(struct rst_ctx *ctx)
{
	int ret = 0;

	if (lazy_sk < 0)
		return 0;
	lazy_sk = rst_pool_add(ctx, lazy_sk);
	if (lazy_sk < 0)
		return lazy_sk;
	for (size_t i = 0; !ret && i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		if (t->zombie && !t->helper)
			ret = announce(t->pid, -1);
	}
	return ret;
}

/* In the task: its userfaultfd, above every fd it will have, to the daemon. */
static int lazy_task(struct rst_ctx *ctx, struct rst_task *t)
{
	struct uffdio_api api = { .api = UFFD_API, .features = uffd_features };
	int fd;

	if (lazy_sk < 0)
		return 0;
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	/*
	 * Inside a user namespace a full userfaultfd (kernel faults, fork
	 * events) takes CAP_SYS_PTRACE of the initial one, or the sysctl.
	 */
	if (fd < 0 && errno == EPERM) {
		pr_err("pid %d: not supported yet: restore --lazy-pages where userfaultfd is "
		       "not permitted (a user namespace, or no CAP_SYS_PTRACE with "
		       "vm.unprivileged_userfaultfd 0)", t->pid);
		return -ENOTSUP;
	}
	if (fd < 0) {
		pr_perror("pid %d: cannot make a userfaultfd", t->pid);
		return -errno;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		pr_perror("pid %d: UFFDIO_API", t->pid);
		close(fd);
		return -errno;
	}
	task_uffd = fcntl(fd, F_DUPFD_CLOEXEC, ctx->pool_next);
	close(fd);
	if (task_uffd < 0)
		return -errno;
	return announce(t->pid, task_uffd);
}

static int lazy_args(struct rst_ctx *ctx, struct rst_task *t, struct rst_args *a,
		     struct rst_alloc *al, const struct rst_range *region)
{
	(void)ctx, (void)t, (void)al, (void)region;
	a->uffd = task_uffd;
	return 0;
}

/* Every task ready: from now on the daemon pushes the rest unasked. */
static int lazy_arm(struct rst_ctx *ctx)
{
	uint32_t fin = LAZY_RESTORE_FINISHED;

	(void)ctx;
	return lazy_sk < 0 ? 0 : send_all(&fin, sizeof(fin));
}

static void lazy_cleanup(struct rst_ctx *ctx)
{
	(void)ctx;
	if (lazy_sk >= 0)
		close(lazy_sk);
	lazy_sk = -1;
	if (sk_lock_word)
		munmap(sk_lock_word, sizeof(*sk_lock_word));
	sk_lock_word = NULL;
}

const struct task_part_ops lazy_part = {
	.name = "lazy",
	.fail = "hand its memory to the lazy-pages daemon",
	.collect = lazy_collect,
	.prepare = lazy_prepare,
	.task = lazy_task,
	.args = lazy_args,
	.arm = lazy_arm,
	.cleanup = lazy_cleanup,
};
