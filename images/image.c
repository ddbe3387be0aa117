/*
 * image.c - reading and writing CRIU image files.
 *
 * Reads go through a small buffer; every length read from a file is checked
 * against what is left in it before anything is allocated for it.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "log.h"

#define IMG_BUF_SIZE	(64u << 10)

struct img {
	int fd;
	bool writer;
	const struct img_desc *desc;
	char *name;		/* as given, for messages */
	off_t off;		/* offset of the next byte read or written */
	off_t size;		/* file size for a regular file read, else -1 */
	off_t entry_off;	/* where the entry being read started */
	uint8_t *buf;
	size_t buf_len;		/* bytes held in buf */
	size_t buf_pos;		/* next unread byte (reader) */
	int werr;		/* first write error (writer) */
};

const struct img_desc *img_get_desc(const struct img *img)
{
	return img->desc;
}

const char *img_name(const struct img *img)
{
	return img->name;
}

off_t img_offset(const struct img *img)
{
	return img->off;
}

static struct img *img_alloc(int fd, const char *name, bool writer)
{
	struct img *img = calloc(1, sizeof(*img));

	if (!img)
		return NULL;
	img->fd = fd;
	img->writer = writer;
	img->size = -1;
	img->name = strdup(name);
	img->buf = malloc(IMG_BUF_SIZE);
	if (!img->name || !img->buf) {
		free(img->name);
		free(img->buf);
		free(img);
		return NULL;
	}
	return img;
}

static void img_free(struct img *img)
{
	if (img->fd >= 0)
		close(img->fd);
	free(img->name);
	free(img->buf);
	free(img);
}

/* Copy up to @len buffered-or-fresh bytes into @dst; returns bytes got or -errno. */
static ssize_t img_get(struct img *img, void *dst, size_t len)
{
	uint8_t *out = dst;
	size_t got = 0;

	while (got < len) {
		size_t avail = img->buf_len - img->buf_pos;
		ssize_t r;

		if (avail) {
			size_t n = avail < len - got ? avail : len - got;

			memcpy(out + got, img->buf + img->buf_pos, n);
			img->buf_pos += n;
			got += n;
			continue;
		}
		/* Large reads go straight to the caller's buffer. */
		if (len - got >= IMG_BUF_SIZE) {
			r = read(img->fd, out + got, len - got);
		} else {
			r = read(img->fd, img->buf, IMG_BUF_SIZE);
			if (r > 0) {
				img->buf_len = r;
				img->buf_pos = 0;
				continue;
			}
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("%s: offset %lld: read failed", img->name,
				  (long long)(img->off + got));
			return -errno;
		}
		if (r == 0)
			break;
		got += r;
	}
	img->off += got;
	return got;
}

/* Read exactly @len bytes of what @what names; a short read is an error. */
static int img_get_exact(struct img *img, void *dst, size_t len, const char *what)
{
	off_t at = img->off;
	ssize_t r = img_get(img, dst, len);

	if (r < 0)
		return r;
	if ((size_t)r != len) {
		pr_err("%s: offset %lld: truncated inside %s (%zd of %zu bytes)",
		       img->name, (long long)at, what, r, len);
		return -EIO;
	}
	return 0;
}

static int img_read_magic(struct img *img, uint32_t *magic)
{
	uint32_t m;
	ssize_t r = img_get(img, &m, sizeof(m));

	if (r < 0)
		return r;
	if (r == 0 && img->off == 0) {
		pr_err("%s: empty file, no image magic", img->name);
		return -EINVAL;
	}
	if (r != sizeof(m)) {
		pr_err("%s: offset %lld: truncated inside the magic", img->name,
		       (long long)(img->off - r));
		return -EIO;
	}
	*magic = m;
	return 0;
}

/* Read the header and find the image type it announces. */
static int img_read_header(struct img *img)
{
	const struct img_desc *d;
	uint32_t prefix = 0, magic;
	int ret;

	ret = img_read_magic(img, &magic);
	if (ret)
		return ret;
	if (magic == IMG_COMMON_MAGIC || magic == IMG_SERVICE_MAGIC) {
		prefix = magic;
		ret = img_read_magic(img, &magic);
		if (ret)
			return ret;
	}
	d = img_desc_by_magic(magic);
	if (!d) {
		pr_err("%s: offset %lld: unknown magic 0x%08x (not a CRIU image, "
		       "or raw data such as pages-*.img)", img->name,
		       (long long)(img->off - 4), magic);
		return -EINVAL;
	}
	if (d->prefix != prefix) {
		pr_err("%s: image %s must start with magic 0x%08x, found 0x%08x",
		       img->name, d->name, d->prefix, prefix);
		return -EINVAL;
	}
	img->desc = d;
	return 0;
}

static int img_setup_reader(struct img *img)
{
	struct stat st;

	if (fstat(img->fd, &st) == 0 && S_ISREG(st.st_mode))
		img->size = st.st_size;
	if (img->desc && img->desc->magic == RAW_IMAGE_MAGIC)
		return 0;
	return img_read_header(img);
}

static int img_write_header(struct img *img)
{
	const struct img_desc *d = img->desc;
	int ret = 0;

	if (d->magic == RAW_IMAGE_MAGIC)
		return 0;
	if (d->prefix)
		ret = img_write_raw(img, &d->prefix, sizeof(d->prefix));
	if (!ret)
		ret = img_write_raw(img, &d->magic, sizeof(d->magic));
	return ret;
}

int img_openat(int dirfd, const char *name, int flags)
{
	struct stat st;
	int fd, ret;

	/*
	 * A new image (the usual case: a dump writes into a directory of its
	 * own) is a regular file we just made: no FIFO to open without
	 * blocking, nothing to check.  One already there is looked at below.
	 */
	if ((flags & O_CREAT) && !(flags & O_EXCL)) {
		fd = openat(dirfd, name, flags | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	/*
	 * CRIU's mode (less the umask): a restore inside a user namespace
	 * reads them as that namespace's root, not as their owner.
	 */
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ELOOP) {
			pr_err("%s: is a symbolic link, not an image", name);
		} else if (ret == -ENXIO) {
			/* A FIFO or socket that no one reads: not an image either. */
			pr_err("%s: is not a regular file", name);
			ret = -EINVAL;
		}
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		pr_err("%s: is not a regular file", name);
		close(fd);
		return -EINVAL;
	}
	/* Regular files ignore O_NONBLOCK, but pass on no surprise to readers. */
	if (fcntl(fd, F_SETFL, flags & ~O_NONBLOCK & (O_APPEND | O_DIRECT | O_NOATIME)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int img_open(struct img **out, int dirfd, enum img_type type, unsigned long id, int flags)
{
	const struct img_desc *want = img_desc_of(type);
	bool writer = (flags & O_ACCMODE) == O_WRONLY;
	char fname[PATH_MAX];
	struct img *img;
	int fd, ret;

	snprintf(fname, sizeof(fname), want->fname, id);
	fd = img_openat(dirfd, fname, writer ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY);
	if (fd < 0) {
		ret = fd;
		if ((writer || ret != -ENOENT) && ret != -EINVAL && ret != -ELOOP)
			pr_err("%s: cannot open: %s", fname, strerror(-ret));
		return ret;
	}
	img = img_alloc(fd, fname, writer);
	if (!img) {
		close(fd);
		return -ENOMEM;
	}
	if (writer) {
		img->desc = want;
		ret = img_write_header(img);
	} else {
		if (want->magic == RAW_IMAGE_MAGIC)
			img->desc = want;
		ret = img_setup_reader(img);
		/* Images sharing a magic (pagemap-shmem and pagemap) are told by name. */
		if (!ret && img->desc != want && img->desc->magic == want->magic)
			img->desc = want;
		if (!ret && img->desc != want) {
			pr_err("%s: holds a %s image, expected %s", fname,
			       img->desc->name, want->name);
			ret = -EINVAL;
		}
	}
	if (ret) {
		img_free(img);
		return ret;
	}
	*out = img;
	return 0;
}

int img_open_fd_read(struct img **out, int fd, const char *name, bool raw_pages)
{
	struct img *img = img_alloc(fd, name, false);
	int ret;

	if (!img)
		return -ENOMEM;
	if (raw_pages)
		img->desc = img_desc_of(IMG_PAGES);
	ret = img_setup_reader(img);
	if (ret) {
		img->fd = -1;	/* the caller owns @fd */
		img_free(img);
		return ret;
	}
	*out = img;
	return 0;
}

int img_open_any(struct img **out, const char *path)
{
	const char *base = strrchr(path, '/');
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pr_perror("%s: cannot open", path);
		return ret;
	}
	base = base ? base + 1 : path;
	ret = img_open_fd_read(out, fd, path, !strncmp(base, "pages-", 6));
	if (ret)
		close(fd);
	return ret;
}

int img_open_fd_write(struct img **out, int fd, const char *name, enum img_type type)
{
	struct img *img = img_alloc(fd, name, true);
	int ret;

	if (!img)
		return -ENOMEM;
	img->desc = img_desc_of(type);
	ret = img_write_header(img);
	if (ret) {
		img->fd = -1;	/* the caller owns @fd */
		img_free(img);
		return ret;
	}
	*out = img;
	return 0;
}

static int img_flush(struct img *img)
{
	size_t done = 0;

	while (done < img->buf_len && !img->werr) {
		ssize_t r = write(img->fd, img->buf + done, img->buf_len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			img->werr = r < 0 ? -errno : -EIO;
			pr_perror("%s: write failed", img->name);
			break;
		}
		done += r;
	}
	img->buf_len = 0;
	return img->werr;
}

int img_close(struct img *img)
{
	int ret = 0;

	if (!img)
		return 0;
	if (img->writer) {
		ret = img_flush(img);
		if (!ret && close(img->fd)) {
			ret = -errno;
			pr_perror("%s: close failed", img->name);
		}
		img->fd = -1;
	}
	img_free(img);
	return ret;
}

int img_write_raw(struct img *img, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (img->werr)
		return img->werr;
	while (len) {
		size_t room = IMG_BUF_SIZE - img->buf_len;
		size_t n = len < room ? len : room;

		memcpy(img->buf + img->buf_len, p, n);
		img->buf_len += n;
		p += n;
		len -= n;
		img->off += n;
		if (img->buf_len == IMG_BUF_SIZE && img_flush(img))
			return img->werr;
	}
	return 0;
}

int img_write_msg(struct img *img, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint32_t len32 = len;
	uint8_t small[512], *buf = small;
	int ret;

	if (len > IMG_ENTRY_MAX) {
		pr_err("%s: entry of %zu bytes is too large", img->name, len);
		return -EFBIG;
	}
	if (len > sizeof(small)) {
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
	}
	protobuf_c_message_pack(msg, buf);
	ret = img_write_raw(img, &len32, sizeof(len32));
	if (!ret)
		ret = img_write_raw(img, buf, len);
	if (buf != small)
		free(buf);
	return ret;
}

int img_read_raw(struct img *img, void *buf, size_t len)
{
	if (img->size >= 0 && (off_t)len > img->size - img->off) {
		pr_err("%s: offset %lld: %zu bytes of data expected, only %lld left",
		       img->name, (long long)img->off, len,
		       (long long)(img->size - img->off));
		return -EIO;
	}
	return img_get_exact(img, buf, len, "entry data");
}

int img_read_alloc(struct img *img, size_t len, uint8_t **out)
{
	uint8_t *buf;
	int ret;

	/* Check before allocating: a corrupt length must not cost memory. */
	if (img->size >= 0 ? (off_t)len > img->size - img->off : len > IMG_ENTRY_MAX) {
		pr_err("%s: offset %lld: %zu bytes of data expected, the file holds fewer",
		       img->name, (long long)img->off, len);
		return -EIO;
	}
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	ret = img_get_exact(img, buf, len, "entry data");
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	return 0;
}

int img_read_rest(struct img *img, uint8_t **out, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (len == cap) {
			uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = img_get(img, buf + len, cap - len);
		if (r < 0) {
			free(buf);
			return r;
		}
		if (r == 0)
			break;
		len += r;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int img_read_entry(struct img *img, uint8_t **data, size_t *data_len)
{
	uint32_t len;
	uint8_t *buf;
	ssize_t r;
	int ret;

	img->entry_off = img->off;
	r = img_get(img, &len, sizeof(len));
	if (r < 0)
		return r;
	if (r == 0)
		return 0;
	if (r != sizeof(len)) {
		pr_err("%s: offset %lld: truncated inside an entry length",
		       img->name, (long long)img->entry_off);
		return -EIO;
	}
	if (len > IMG_ENTRY_MAX) {
		pr_err("%s: offset %lld: entry length %u is larger than the %u allowed",
		       img->name, (long long)img->entry_off, len, IMG_ENTRY_MAX);
		return -EINVAL;
	}
	if (img->size >= 0 && (off_t)len > img->size - img->off) {
		pr_err("%s: offset %lld: truncated inside an entry (%u bytes announced, %lld left)",
		       img->name, (long long)img->entry_off, len,
		       (long long)(img->size - img->off));
		return -EIO;
	}
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	ret = img_get_exact(img, buf, len, "an entry");
	if (ret) {
		free(buf);
		return ret;
	}
	*data = buf;
	*data_len = len;
	return 1;
}

int img_unpack(struct img *img, const ProtobufCMessageDescriptor *md,
	       const uint8_t *data, size_t len, ProtobufCMessage **msg)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(md, NULL, len, data);

	if (!m) {
		pr_err("%s: offset %lld: entry of %zu bytes is not a valid %s message",
		       img->name, (long long)img->entry_off, len, md->name);
		return -EINVAL;
	}
	*msg = m;
	return 0;
}

int img_read_msg(struct img *img, const ProtobufCMessageDescriptor *md, ProtobufCMessage **msg)
{
	uint8_t *data;
	size_t len;
	int ret;

	ret = img_read_entry(img, &data, &len);
	if (ret <= 0)
		return ret;
	ret = img_unpack(img, md, data, len, msg);
	free(data);
	return ret ? ret : 1;
}

int img_read_one(int dirfd, enum img_type type, unsigned long id,
		 const ProtobufCMessageDescriptor *md, ProtobufCMessage **msg)
{
	struct img *img;
	int ret;

	ret = img_open(&img, dirfd, type, id, O_RDONLY);
	if (ret)
		return ret;
	ret = img_read_msg(img, md, msg);
	if (ret == 0) {
		pr_err("%s is empty", img_name(img));
		ret = -EINVAL;
	}
	img_close(img);
	return ret < 0 ? ret : 0;
}

int img_write_one(int dirfd, enum img_type type, unsigned long id, const ProtobufCMessage *msg)
{
	struct img *img;
	int ret;

	ret = img_open(&img, dirfd, type, id, O_WRONLY);
	if (ret)
		return ret;
	ret = img_write_msg(img, msg);
	return img_close(img) ?: ret;
}

void img_free_msg(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}
