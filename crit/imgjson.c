/*
 * imgjson.c - image files to JSON and back, entry by entry, with the raw
 * data some images carry after their entries.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ghost-file.pb-c.h"
#include "imgjson.h"
#include "ipc-msg.pb-c.h"
#include "log.h"
#include "pbjson.h"

#define ROUND_UP(x, a)	(((x) + (a) - 1) / (a) * (a))

/* "4KB", "1.5MB": the size summary crit prints for payloads with --nopl. */
static struct json *size_summary(uint64_t n)
{
	static const char units[] = " KMGTPEZ";
	double v = n;
	char buf[48];
	int u = 0;

	while (v >= 1024.0 && u < 7) {
		v /= 1024.0;
		u++;
	}
	if (v == (double)(uint64_t)v)
		snprintf(buf, sizeof(buf), "... <%llu%.*sB>", (unsigned long long)v, u ? 1 : 0, &units[u]);
	else
		snprintf(buf, sizeof(buf), "... <%.1f%.*sB>", v, u ? 1 : 0, &units[u]);
	return json_new_str(buf);
}

static int skip_raw(struct img *img, size_t len)
{
	uint8_t *buf;
	int ret = img_read_alloc(img, len, &buf);

	if (!ret)
		free(buf);
	return ret;
}

/* Read @len bytes (+@pad of padding) and return them as base64, or a summary. */
static int raw_json(struct img *img, size_t len, size_t pad, bool nopl, struct json **out)
{
	uint8_t *buf;
	int ret;

	ret = img_read_alloc(img, len, &buf);
	if (ret)
		return ret;
	*out = nopl ? size_summary(len) : b64_to_json(buf, len);
	free(buf);
	if (!*out)
		return -ENOMEM;
	return pad ? skip_raw(img, pad) : 0;
}

static uint64_t field_or_zero(const ProtobufCMessage *m, const char *name)
{
	uint64_t v = 0;

	pb_get_uint(m, name, &v);
	return v;
}

static int sem_json(struct img *img, const ProtobufCMessage *m, bool nopl, struct json **out)
{
	size_t len = field_or_zero(m, "nsems") * 2;
	uint16_t *vals;
	int ret;

	if (nopl)
		return raw_json(img, len, ROUND_UP(len, 8) - len, true, out);
	ret = img_read_alloc(img, len, (uint8_t **)&vals);
	if (ret)
		return ret;
	*out = json_new(JSON_ARRAY);
	for (size_t i = 0; *out && i < len / 2; i++)
		if (json_arr_push(*out, json_new_uint(vals[i]))) {
			json_free(*out);
			*out = NULL;
		}
	free(vals);
	if (!*out)
		return -ENOMEM;
	return skip_raw(img, ROUND_UP(len, 8) - len);
}

/* System V message queue: qnum framed ipc_msg headers, each followed by its text. */
static int msgq_json(struct img *img, const ProtobufCMessage *m, bool nopl, struct json **out)
{
	uint64_t qnum = field_or_zero(m, "qnum"), total = 0;
	struct json *arr = json_new(JSON_ARRAY);
	int ret = 0;

	for (uint64_t i = 0; arr && !ret && i < qnum; i++) {
		ProtobufCMessage *msg;
		struct json *text;
		uint64_t size;

		ret = img_read_msg(img, &ipc_msg__descriptor, &msg);
		if (ret == 0) {
			pr_err("%s: offset %lld: queue ends early", img_name(img),
			       (long long)img_offset(img));
			ret = -EIO;
		}
		if (ret < 0)
			break;
		size = field_or_zero(msg, "msize");
		total += size;
		ret = raw_json(img, size, ROUND_UP(size, 8) - size, nopl, &text);
		if (!ret && !nopl) {
			if (json_arr_push(arr, pb_to_json(msg, false)) || json_arr_push(arr, text))
				ret = -ENOMEM;
		} else {
			json_free(text);
		}
		img_free_msg(msg);
	}
	if (ret < 0 || !arr) {
		json_free(arr);
		return ret < 0 ? ret : -ENOMEM;
	}
	if (nopl) {
		json_free(arr);
		arr = size_summary(total);
	}
	*out = arr;
	return 0;
}

static int tcp_json(struct img *img, const ProtobufCMessage *m, bool nopl, struct json **out)
{
	uint64_t in = field_or_zero(m, "inq_len"), o = field_or_zero(m, "outq_len");
	struct json *obj, *q;
	int ret;

	if (nopl) {
		ret = skip_raw(img, in);
		if (!ret)
			ret = skip_raw(img, o);
		*out = size_summary(in + o);
		return ret ? ret : (*out ? 0 : -ENOMEM);
	}
	obj = json_new(JSON_OBJECT);
	if (!obj)
		return -ENOMEM;
	ret = raw_json(img, in, 0, false, &q);
	if (!ret)
		ret = json_obj_add(obj, "inq", q);
	if (!ret)
		ret = raw_json(img, o, 0, false, &q);
	if (!ret)
		ret = json_obj_add(obj, "outq", q);
	if (ret) {
		json_free(obj);
		return ret;
	}
	*out = obj;
	return 0;
}

/* The raw data after entry @m, as the entry's "extra"; *out stays NULL if none. */
static int extra_json(struct img *img, const ProtobufCMessage *m, bool nopl, struct json **out)
{
	uint64_t len;

	*out = NULL;
	switch (img_get_desc(img)->extra) {
	case EXTRA_PIPE_DATA:
		return raw_json(img, field_or_zero(m, "bytes"), 0, nopl, out);
	case EXTRA_SK_QUEUE:
		return raw_json(img, field_or_zero(m, "length"), 0, nopl, out);
	case EXTRA_BPFMAP_DATA:
		len = field_or_zero(m, "keys_bytes") + field_or_zero(m, "values_bytes");
		return raw_json(img, len, 0, nopl, out);
	case EXTRA_IPC_SHM:
		len = field_or_zero(m, "size");
		return raw_json(img, len, ROUND_UP(len, 4) - len, nopl, out);
	case EXTRA_IPC_SEM:
		return sem_json(img, m, nopl, out);
	case EXTRA_IPC_MSG:
		return msgq_json(img, m, nopl, out);
	case EXTRA_TCP_STREAM:
		return tcp_json(img, m, nopl, out);
	default:
		return 0;
	}
}

static int add_entry(struct json *entries, ProtobufCMessage *m, bool pretty, struct json *extra)
{
	struct json *e = pb_to_json(m, pretty);

	if (!e || (extra && json_obj_add(e, "extra", extra))) {
		json_free(e);
		return -ENOMEM;
	}
	return json_arr_push(entries, e);
}

/*
 * A ghost file is one ghost_file_entry, then either chunk entries each
 * followed by its bytes, or (no chunks) the whole content to the end.
 */
static int ghost_json(struct img *img, bool pretty, bool nopl, struct json *entries)
{
	const struct img_desc *d = img_get_desc(img);
	ProtobufCMessage *gf = NULL, *gc;
	struct json *extra = NULL;
	bool chunks;
	int ret;

	ret = img_read_msg(img, d->first, &gf);
	if (ret <= 0)
		return ret;
	chunks = ((GhostFileEntry *)gf)->has_chunks && ((GhostFileEntry *)gf)->chunks;
	if (!chunks && !nopl) {
		uint8_t *buf;
		size_t len;

		ret = img_read_rest(img, &buf, &len);
		if (ret)
			goto out;
		extra = b64_to_json(buf, len);
		free(buf);
		if (!extra) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = add_entry(entries, gf, pretty, extra);
	if (ret || !chunks)
		goto out;
	while ((ret = img_read_msg(img, d->msg, &gc)) > 0) {
		uint64_t len = field_or_zero(gc, "len");

		extra = NULL;
		if (nopl)
			ret = skip_raw(img, len);
		else
			ret = raw_json(img, len, 0, false, &extra);
		if (!ret)
			ret = add_entry(entries, gc, pretty, extra);
		img_free_msg(gc);
		if (ret)
			break;
	}
out:
	img_free_msg(gf);
	return ret < 0 ? ret : 0;
}

static int pages_json(struct img *img, bool nopl, struct json *entries)
{
	struct json *e = json_new(JSON_OBJECT), *extra;
	uint8_t *buf;
	size_t len;
	int ret;

	if (!e)
		return -ENOMEM;
	ret = img_read_rest(img, &buf, &len);
	if (ret) {
		json_free(e);
		return ret;
	}
	extra = nopl ? size_summary(len) : b64_to_json(buf, len);
	free(buf);
	if (json_obj_add(e, "nr_pages", json_new_uint(len / 4096)) ||
	    json_obj_add(e, "extra", extra)) {
		json_free(e);
		return -ENOMEM;
	}
	return json_arr_push(entries, e);
}

static int entries_json(struct img *img, bool pretty, bool nopl, struct json *entries)
{
	const struct img_desc *d = img_get_desc(img);
	bool first = true;
	int ret;

	if (d->magic == RAW_IMAGE_MAGIC)
		return pages_json(img, nopl, entries);
	if (d->extra == EXTRA_GHOST)
		return ghost_json(img, pretty, nopl, entries);
	for (;;) {
		const ProtobufCMessageDescriptor *md = first && d->first ? d->first : d->msg;
		struct json *extra = NULL;
		ProtobufCMessage *m;

		ret = img_read_msg(img, md, &m);
		if (ret <= 0)
			return ret;
		first = false;
		ret = extra_json(img, m, nopl, &extra);
		if (!ret)
			ret = add_entry(entries, m, pretty, extra);
		else
			json_free(extra);
		img_free_msg(m);
		if (ret)
			return ret;
	}
}

int img_to_json(struct img *img, bool pretty, bool nopl, struct json **out)
{
	struct json *obj = json_new(JSON_OBJECT), *entries = json_new(JSON_ARRAY);
	int ret;

	if (!obj || !entries) {
		json_free(obj);
		json_free(entries);
		return -ENOMEM;
	}
	ret = entries_json(img, pretty, nopl, entries);
	if (ret) {
		json_free(obj);
		json_free(entries);
		return ret;
	}
	if (json_obj_add(obj, "magic", json_new_str(img_get_desc(img)->name)) ||
	    json_obj_add(obj, "entries", entries)) {
		json_free(obj);
		return -ENOMEM;
	}
	*out = obj;
	return 0;
}

int img_count(struct img *img, unsigned long *count)
{
	const struct img_desc *d = img_get_desc(img);
	struct json *j;
	int ret;

	ret = img_to_json(img, false, true, &j);
	if (ret)
		return ret;
	*count = json_obj_get(j, "entries")->arr.n;
	if (d->first && d->extra != EXTRA_GHOST && *count)
		(*count)--;
	json_free(j);
	return 0;
}

/* --- JSON to image --- */

static int write_b64(struct img *img, const struct json *v, const char *what, size_t want, size_t pad)
{
	static const uint8_t zeroes[8];
	uint8_t *buf;
	size_t len;
	int ret;

	if (!v || v->type != JSON_STRING) {
		pr_err("%s: %s must be a base64 string", img_name(img), what);
		return -EINVAL;
	}
	if (b64_decode(v->str.s, v->str.len, &buf, &len)) {
		pr_err("%s: %s is not valid base64", img_name(img), what);
		return -EINVAL;
	}
	if (want != (size_t)-1 && len > want)
		len = want;
	ret = img_write_raw(img, buf, len);
	free(buf);
	if (!ret && pad)
		ret = img_write_raw(img, zeroes, pad);
	return ret;
}

static bool json_truthy(const struct json *v)
{
	if (!v)
		return false;
	switch (v->type) {
	case JSON_NULL: return false;
	case JSON_BOOL: return v->b;
	case JSON_INT: return v->i.mag != 0;
	case JSON_DOUBLE: return v->d != 0;
	case JSON_STRING: return v->str.len != 0;
	case JSON_ARRAY: return v->arr.n != 0;
	case JSON_OBJECT: return v->obj.n != 0;
	}
	return false;
}

static int write_entry_json(struct img *img, const struct json *e,
			    const ProtobufCMessageDescriptor *md, ProtobufCMessage **out)
{
	char err[256];
	ProtobufCMessage *m;
	int ret;

	ret = json_to_pb(e, md, &m, err, sizeof(err));
	if (ret) {
		pr_err("%s: entry %s: %s", img_name(img), md->name, err);
		return ret;
	}
	ret = img_write_msg(img, m);
	if (ret || !out)
		img_free_msg(m);
	else
		*out = m;
	return ret;
}

static int write_sem(struct img *img, const ProtobufCMessage *m, const struct json *v)
{
	static const uint8_t zeroes[8];
	size_t n = field_or_zero(m, "nsems"), len = n * 2;
	int ret = 0;

	if (v->type != JSON_ARRAY || v->arr.n != n) {
		pr_err("%s: semaphore values do not match nsems", img_name(img));
		return -EINVAL;
	}
	for (size_t i = 0; !ret && i < n; i++) {
		uint64_t x;

		if (!json_get_u64(v->arr.v[i], &x) || x > UINT16_MAX) {
			pr_err("%s: bad semaphore value", img_name(img));
			return -EINVAL;
		}
		ret = img_write_raw(img, &(uint16_t){ x }, 2);
	}
	return ret ? ret : img_write_raw(img, zeroes, ROUND_UP(len, 8) - len);
}

static int write_msgq(struct img *img, const struct json *v)
{
	int ret = 0;

	if (v->type != JSON_ARRAY || v->arr.n % 2) {
		pr_err("%s: message queue extra must pair headers and texts", img_name(img));
		return -EINVAL;
	}
	for (size_t i = 0; !ret && i < v->arr.n; i += 2) {
		ProtobufCMessage *msg;
		size_t size;

		ret = write_entry_json(img, v->arr.v[i], &ipc_msg__descriptor, &msg);
		if (ret)
			break;
		size = field_or_zero(msg, "msize");
		img_free_msg(msg);
		ret = write_b64(img, v->arr.v[i + 1], "message text", size, ROUND_UP(size, 8) - size);
	}
	return ret;
}

static int write_extra(struct img *img, const ProtobufCMessage *m, const struct json *v)
{
	uint64_t len;

	if (!json_truthy(v))
		return 0;
	switch (img_get_desc(img)->extra) {
	case EXTRA_PIPE_DATA:
	case EXTRA_SK_QUEUE:
	case EXTRA_BPFMAP_DATA:
		return write_b64(img, v, "extra", -1, 0);
	case EXTRA_IPC_SHM:
		len = field_or_zero(m, "size");
		return write_b64(img, v, "extra", len, ROUND_UP(len, 4) - len);
	case EXTRA_IPC_SEM:
		return write_sem(img, m, v);
	case EXTRA_IPC_MSG:
		return write_msgq(img, v);
	case EXTRA_TCP_STREAM:
		if (v->type != JSON_OBJECT) {
			pr_err("%s: tcp stream extra must hold inq and outq", img_name(img));
			return -EINVAL;
		}
		return write_b64(img, json_obj_get(v, "inq"), "inq", -1, 0) ?:
		       write_b64(img, json_obj_get(v, "outq"), "outq", -1, 0);
	default:
		return 0;
	}
}

static int write_entries(struct img *img, const struct json *entries)
{
	const struct img_desc *d = img_get_desc(img);
	int ret = 0;

	for (size_t i = 0; !ret && i < entries->arr.n; i++) {
		const struct json *e = entries->arr.v[i], *extra = json_obj_get(e, "extra");
		const ProtobufCMessageDescriptor *md = !i && d->first ? d->first : d->msg;
		ProtobufCMessage *m = NULL;

		if (d->magic == RAW_IMAGE_MAGIC) {
			ret = write_b64(img, extra, "pages", -1, 0);
			continue;
		}
		ret = write_entry_json(img, e, md, &m);
		if (ret)
			break;
		if (d->extra == EXTRA_GHOST && json_truthy(extra))
			ret = write_b64(img, extra, "extra", -1, 0);
		else
			ret = write_extra(img, m, extra);
		img_free_msg(m);
	}
	return ret;
}

/* A JSON image's shape: a known magic name and a list of objects. */
static int check_json_image(const struct json *j, const char *name, const struct img_desc **d)
{
	const struct json *magic = json_obj_get(j, "magic");
	const struct json *entries = json_obj_get(j, "entries");

	if (!magic || magic->type != JSON_STRING || !entries || entries->type != JSON_ARRAY) {
		pr_err("%s: JSON image needs a \"magic\" string and an \"entries\" list", name);
		return -EINVAL;
	}
	*d = img_desc_by_name(magic->str.s);
	if (!*d) {
		pr_err("%s: unknown image magic name \"%s\"", name, magic->str.s);
		return -EINVAL;
	}
	for (size_t i = 0; i < entries->arr.n; i++)
		if (entries->arr.v[i]->type != JSON_OBJECT) {
			pr_err("%s: entry %zu is not an object", name, i);
			return -EINVAL;
		}
	return 0;
}

int json_to_img(const struct json *j, int fd, const char *name)
{
	const struct json *entries = json_obj_get(j, "entries");
	const struct img_desc *d;
	struct img *img;
	int ret;

	ret = check_json_image(j, name, &d);
	if (ret) {
		close(fd);	/* as promised: @fd is ours whatever happens */
		return ret;
	}
	ret = img_open_fd_write(&img, fd, name, d - img_desc_of(0));
	if (ret) {
		close(fd);
		return ret;
	}
	ret = write_entries(img, entries);
	if (ret) {
		img_close(img);
		return ret;
	}
	return img_close(img);
}
