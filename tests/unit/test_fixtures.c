/*
 * test_fixtures.c - every CRIU 4.2 fixture image decodes to exactly what
 * CRIU 4.2's crit printed (expected.json with --pretty, expected-raw.json
 * without), and encoding that JSON gives back the original bytes.
 *
 * usage: test_fixtures FIXTURES_DIR   (../shared/fixtures/criu-4.2)
 * Prints one "PASS: ..." or "FAIL: ...: why" line per image.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgjson.h"
#include "json.h"
#include "log.h"

static int failures;

static int read_file(const char *path, char **buf, size_t *len)
{
	struct stat st;
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st)) {
		close(fd);
		return -1;
	}
	*buf = malloc(st.st_size + 1);
	r = *buf ? read(fd, *buf, st.st_size) : -1;
	close(fd);
	if (r != st.st_size) {
		free(*buf);
		return -1;
	}
	*len = st.st_size;
	return 0;
}

static struct json *load_json(const char *path)
{
	struct json *j = NULL;
	char err[128];
	size_t len;
	char *text;

	if (read_file(path, &text, &len))
		return NULL;
	if (json_parse(text, len, &j, err, sizeof(err)))
		fprintf(stderr, "%s: %s\n", path, err);
	free(text);
	return j;
}

static struct json *decode(const char *path, bool pretty)
{
	struct json *j = NULL;
	struct img *img;

	if (img_open_any(&img, path))
		return NULL;
	if (img_to_json(img, pretty, false, &j))
		j = NULL;
	img_close(img);
	return j;
}

/* Encode @j into memory and compare with the file at @path byte for byte. */
static const char *encode_matches(const struct json *j, const char *path)
{
	int fd = memfd_create("enc", 0);
	char *orig = NULL, *got = NULL;
	size_t olen, glen;
	const char *why = NULL;
	struct stat st;

	if (fd < 0)
		return "memfd_create failed";
	if (json_to_img(j, dup(fd), "memfd")) {
		why = "encode failed";
		goto out;
	}
	if (fstat(fd, &st) || read_file(path, &orig, &olen)) {
		why = "cannot read back";
		goto out;
	}
	glen = st.st_size;
	got = malloc(glen + 1);
	if (!got || pread(fd, got, glen, 0) != (ssize_t)glen)
		why = "cannot read encoded image";
	else if (glen != olen)
		why = "encoded size differs";
	else if (memcmp(orig, got, olen))
		why = "encoded bytes differ";
out:
	free(orig);
	free(got);
	close(fd);
	return why;
}

static void check_image(const char *sc, const char *dir, const char *name,
			const struct json *want_pretty, const struct json *want_raw)
{
	struct json *pretty = NULL, *raw = NULL;
	const char *why = NULL;
	char path[4096];

	snprintf(path, sizeof(path), "%s/img/%s", dir, name);
	pretty = decode(path, true);
	raw = decode(path, false);
	if (!pretty || !raw)
		why = "decode failed";
	else if (want_pretty && !json_equal(pretty, want_pretty))
		why = "--pretty JSON differs from crit 4.2's";
	else if (want_raw && !json_equal(raw, want_raw))
		why = "raw JSON differs from crit 4.2's";
	if (!why)
		why = encode_matches(raw, path);
	if (!why)
		why = encode_matches(pretty, path);
	if (why) {
		printf("FAIL: fixture %s/%s: %s\n", sc, name, why);
		failures++;
	} else {
		printf("PASS: fixture %s/%s: decodes as crit 4.2, re-encodes byte-exact\n", sc, name);
	}
	json_free(pretty);
	json_free(raw);
}

static void check_scenario(const char *root, const char *sc)
{
	struct json *exp, *raw;
	char dir[4096], path[4200];
	struct dirent *de;
	size_t i, seen = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", root, sc);
	snprintf(path, sizeof(path), "%s/expected.json", dir);
	exp = load_json(path);
	snprintf(path, sizeof(path), "%s/expected-raw.json", dir);
	raw = load_json(path);
	if (!exp || !raw) {
		printf("FAIL: fixture %s: cannot load expected JSON\n", sc);
		failures++;
		goto out;
	}
	for (i = 0; i < exp->obj.n; i++)
		check_image(sc, dir, exp->obj.k[i], exp->obj.v[i], json_obj_get(raw, exp->obj.k[i]));
	/* Images crit's dump left out (pages) must still round-trip. */
	snprintf(path, sizeof(path), "%s/img", dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || json_obj_get(exp, de->d_name))
			continue;
		check_image(sc, dir, de->d_name, NULL, NULL);
		seen++;
	}
	if (d)
		closedir(d);
	if (!seen) {
		printf("FAIL: fixture %s: no pages image found\n", sc);
		failures++;
	}
out:
	json_free(exp);
	json_free(raw);
}

int main(int argc, char **argv)
{
	static const char *scenarios[] = { "counter-static", "threads-dynamic", "tree", "fpu" };

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
		return 2;
	}
	log_set_prog("test_fixtures");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		check_scenario(argv[1], scenarios[i]);
	return failures ? 1 : 0;
}
