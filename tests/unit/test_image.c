/*
 * test_image.c - unit tests of the image layer and the JSON conversions:
 * unknown fields survive, Python-identical JSON text, exact 64-bit values,
 * crit's pretty forms read back to the same numbers.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "imgjson.h"
#include "json.h"
#include "log.h"
#include "pbjson.h"
#include "pstree.pb-c.h"
#include "sk-inet.pb-c.h"
#include "vma.pb-c.h"

static int failures;

#define CHECK(cond, name)						\
	do {								\
		if (cond) {						\
			printf("PASS: %s\n", name);			\
		} else {						\
			printf("FAIL: %s: %s (line %d)\n", name, #cond, __LINE__); \
			failures++;					\
		}							\
	} while (0)

static size_t fd_bytes(int fd, uint8_t *buf, size_t len)
{
	ssize_t r = pread(fd, buf, len, 0);

	return r < 0 ? 0 : r;
}

/* A pstree entry followed by field 50 = 7, which our schema does not know. */
static int write_future_pstree(int fd)
{
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	uint8_t buf[64];
	uint32_t magic[2] = { IMG_COMMON_MAGIC, PSTREE_MAGIC }, len;
	size_t n;

	pe.pid = 42;
	pe.ppid = 1;
	pe.pgid = 42;
	pe.sid = 42;
	n = pstree_entry__pack(&pe, buf);
	buf[n++] = 0x90;	/* key: field 50, varint */
	buf[n++] = 0x03;
	buf[n++] = 0x07;
	len = n;
	if (write(fd, magic, sizeof(magic)) != sizeof(magic) ||
	    write(fd, &len, 4) != 4 || write(fd, buf, n) != (ssize_t)n)
		return -1;
	return 0;
}

static void test_unknown_fields(void)
{
	int src = memfd_create("src", 0), dst = memfd_create("dst", 0), enc = memfd_create("enc", 0);
	uint8_t a[128], b[128], c[128];
	ProtobufCMessage *m = NULL;
	struct img *in = NULL, *out = NULL;
	struct json *j = NULL;
	size_t na, nb, nc;
	bool ok;

	ok = !write_future_pstree(src) && !lseek(src, 0, SEEK_SET) &&
	     !img_open_fd_read(&in, dup(src), "src", false) &&
	     img_read_msg(in, &pstree_entry__descriptor, &m) == 1 &&
	     m->n_unknown_fields == 1 &&
	     !img_open_fd_write(&out, dup(dst), "dst", IMG_PSTREE) &&
	     !img_write_msg(out, m) && !img_close(out);
	out = NULL;
	na = fd_bytes(src, a, sizeof(a));
	nb = fd_bytes(dst, b, sizeof(b));
	CHECK(ok && na == nb && !memcmp(a, b, na), "unknown fields survive read and write");
	img_free_msg(m);
	img_close(in);

	ok = !lseek(src, 0, SEEK_SET) &&
	     !img_open_fd_read(&in, dup(src), "src", false) &&
	     !img_to_json(in, true, false, &j) &&
	     json_obj_get(json_obj_get(j, "entries")->arr.v[0], PBJSON_UNKNOWN_KEY) &&
	     !json_to_img(j, dup(enc), "enc");
	nc = fd_bytes(enc, c, sizeof(c));
	CHECK(ok && na == nc && !memcmp(a, c, na), "unknown fields survive JSON decode and encode");
	json_free(j);
	img_close(in);
	close(src);
	close(dst);
	close(enc);
}

static bool prints_as(const char *in, int indent, const char *want)
{
	struct json *j;
	struct sbuf b = { 0 };
	char err[128];
	bool ok;

	if (json_parse(in, strlen(in), &j, err, sizeof(err)))
		return false;
	json_print(&b, j, indent);
	ok = b.s && !strcmp(b.s, want);
	if (!ok)
		fprintf(stderr, "got: %s\nwant: %s\n", b.s, want);
	free(b.s);
	json_free(j);
	return ok;
}

static void test_json_text(void)
{
	CHECK(prints_as("{\"a\":[1,-2,\"x\\u00e9\\n\\\"\"],\"b\":{},\"c\":[],\"d\":true}", 0,
			"{\"a\": [1, -2, \"x\\u00e9\\n\\\"\"], \"b\": {}, \"c\": [], \"d\": true}"),
	      "JSON one-line text is Python's");
	CHECK(prints_as("{\"a\":[1,{\"b\":null}]}", 4,
			"{\n    \"a\": [\n        1,\n        {\n            \"b\": null\n        }\n    ]\n}"),
	      "JSON indented text is Python's");
	CHECK(prints_as("[18446744073709551615,-9223372036854775808,0]", 0,
			"[18446744073709551615, -9223372036854775808, 0]"),
	      "JSON keeps 64-bit integers exact");
	CHECK(prints_as("\"\\ud83d\\ude00\"", 0, "\"\\ud83d\\ude00\""),
	      "JSON astral characters as surrogate pairs");
	{
		struct json *j = NULL;
		char err[128];

		CHECK(json_parse("[1,", 3, &j, err, sizeof(err)) == -EINVAL && strstr(err, "byte"),
		      "JSON error names the byte offset");
		CHECK(json_parse("18446744073709551616", 20, &j, err, sizeof(err)) == -EINVAL,
		      "JSON rejects integers past 64 bits");
	}
}

/* Pretty JSON of @m, then back: the same message bytes. */
static bool pretty_round_trip(const ProtobufCMessage *m, struct json **pj)
{
	uint8_t a[256], b[256];
	ProtobufCMessage *back;
	char err[128];
	size_t na, nb;
	bool ok;

	*pj = pb_to_json(m, true);
	if (!*pj || json_to_pb(*pj, m->descriptor, &back, err, sizeof(err)))
		return false;
	na = protobuf_c_message_pack(m, a);
	nb = protobuf_c_message_pack(back, b);
	ok = na == nb && !memcmp(a, b, na);
	protobuf_c_message_free_unpacked(back, NULL);
	return ok;
}

static bool str_is(const struct json *j, const char *s)
{
	return j && j->type == JSON_STRING && !strcmp(j->str.s, s);
}

static void test_pretty_forms(void)
{
	VmaEntry v = VMA_ENTRY__INIT;
	InetSkEntry sk = INET_SK_ENTRY__INIT;
	SkOptsEntry opts = SK_OPTS_ENTRY__INIT;
	FownEntry fown = FOWN_ENTRY__INIT;
	uint32_t v4 = htonl(0x7f000001), v6[4] = { 0, 0, 0, htonl(1) };
	struct json *j;
	bool ok;

	v.start = 0x400000;
	v.end = 0x401000;
	v.prot = 7;
	v.flags = 0x22;
	v.status = 0x201 | 0x40000;
	v.fd = -1;
	ok = pretty_round_trip(&v.base, &j);
	CHECK(ok && str_is(json_obj_get(j, "start"), "0x400000") &&
	      str_is(json_obj_get(j, "prot"), "PROT_READ | PROT_WRITE | PROT_EXEC") &&
	      str_is(json_obj_get(j, "flags"), "MAP_PRIVATE | MAP_ANON") &&
	      str_is(json_obj_get(j, "status"), "VMA_AREA_REGULAR | VMA_ANON_PRIVATE | 0x40000"),
	      "hex and flag fields print as crit and read back");
	json_free(j);

	sk.opts = &opts;
	sk.fown = &fown;
	sk.family = 10;
	sk.type = 1;
	sk.proto = 6;
	sk.state = 10;
	sk.n_src_addr = 1;
	sk.src_addr = &v4;
	sk.n_dst_addr = 4;
	sk.dst_addr = v6;
	ok = pretty_round_trip(&sk.base, &j);
	CHECK(ok && str_is(json_obj_get(j, "src_addr")->arr.v[0], "127.0.0.1") &&
	      str_is(json_obj_get(j, "dst_addr")->arr.v[0], "::1") &&
	      str_is(json_obj_get(j, "family"), "INET6") &&
	      str_is(json_obj_get(j, "state"), "LISTEN"),
	      "addresses and socket names print as crit and read back");
	json_free(j);
}

static void test_open_errors(void)
{
	struct img *img;
	int dirfd = open("/", O_RDONLY | O_DIRECTORY);

	CHECK(img_open(&img, dirfd, IMG_INVENTORY, 0, O_RDONLY) == -ENOENT,
	      "a missing image is -ENOENT");
	close(dirfd);
}

/* json_to_img() takes its fd whatever happens: a bad JSON image leaks none. */
static void test_encode_closes_fd(void)
{
	static const char *bad[] = { "{}", "{\"magic\":\"NOSUCH\",\"entries\":[]}",
				     "{\"magic\":\"PSTREE\",\"entries\":[1]}" };
	bool closed = true;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json *j;
		char err[128];
		int fd = memfd_create("enc", 0);

		if (json_parse(bad[i], strlen(bad[i]), &j, err, sizeof(err)) || fd < 0) {
			closed = false;
			continue;
		}
		closed &= json_to_img(j, fd, "enc") < 0 && fcntl(fd, F_GETFD) < 0 && errno == EBADF;
		json_free(j);
	}
	CHECK(closed, "a JSON image crit cannot encode leaves no fd open");
}

int main(void)
{
	log_set_prog("test_image");
	log_set_level(LOG_MSG);	/* the expected errors stay quiet */
	test_unknown_fields();
	test_json_text();
	test_pretty_forms();
	test_open_errors();
	test_encode_closes_fd();
	return failures ? 1 : 0;
}
