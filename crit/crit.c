/*
 * crit.c - stasis's image tool, with the verbs and JSON of CRIU's crit:
 *
 *   decode [-i IMG] [-o JSON] [--pretty]    image to JSON
 *   encode [-i JSON] [-o IMG]               JSON to image
 *   show IMG [--nopl]                       decode --pretty to stdout
 *   info IMG                                magic and entry count
 *   x DIR ps|fds|mems|rss                   explore an image directory
 *
 * Errors are one line on stderr naming the file and what is wrong; the exit
 * status is then 1 and no output file is left behind.
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crit.h"
#include "imgjson.h"
#include "log.h"

#define CRIT_VERSION	"4.2"	/* the crit whose output we match */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stasis-crit {decode,encode,info,x,show} ...\n"
		"\n"
		"CRIU image tool (stasis)\n"
		"  decode [-i IMG] [-o JSON] [--pretty]   convert an image to JSON\n"
		"  encode [-i JSON] [-o IMG]              convert JSON to an image\n"
		"  info IMG                               show the magic and entry count\n"
		"  x DIR {ps,fds,mems,rss}                explore an image directory\n"
		"  show IMG [--nopl]                      decode --pretty to stdout\n");
}

/*
 * Output goes to a temporary file beside the target and is renamed over it
 * only when complete, so a failure never leaves a half-written file.
 */
struct out_file {
	const char *path;	/* NULL: stdout */
	char tmp[PATH_MAX];
	int fd;
};

static int out_open(struct out_file *o, const char *path)
{
	o->path = path;
	if (!path) {
		o->fd = dup(STDOUT_FILENO);
		return o->fd < 0 ? -errno : 0;
	}
	if (snprintf(o->tmp, sizeof(o->tmp), "%s.XXXXXX", path) >= (int)sizeof(o->tmp)) {
		pr_err("%s: path too long", path);
		return -ENAMETOOLONG;
	}
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0) {
		pr_perror("%s: cannot create", path);
		return -errno;
	}
	fchmod(o->fd, 0644);
	return 0;
}

/* Finish: on success rename into place; on failure remove the temporary. */
static int out_finish(struct out_file *o, int ret)
{
	if (!o->path)
		return ret;
	if (!ret && rename(o->tmp, o->path)) {
		pr_perror("%s: cannot rename into place", o->path);
		ret = -errno;
	}
	if (ret)
		unlink(o->tmp);
	return ret;
}

static int write_all(int fd, const char *buf, size_t len, const char *name)
{
	while (len) {
		ssize_t r = write(fd, buf, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			pr_perror("%s: write failed", name ? name : "stdout");
			return -EIO;
		}
		buf += r;
		len -= r;
	}
	return 0;
}

static int open_input(const char *path, struct img **img)
{
	if (!path || !strcmp(path, "-"))
		return img_open_fd_read(img, STDIN_FILENO, "<stdin>", false);
	return img_open_any(img, path);
}

static int do_decode(const char *in, const char *out, bool pretty, bool nopl)
{
	struct out_file of;
	struct sbuf b = { 0 };
	struct json *j;
	struct img *img;
	int ret;

	ret = open_input(in, &img);
	if (ret)
		return ret;
	ret = img_to_json(img, pretty, nopl, &j);
	img_close(img);
	if (ret)
		return ret;
	json_print(&b, j, pretty ? 4 : 0);
	json_free(j);
	if (!out)
		sbuf_addc(&b, '\n');	/* crit ends stdout output with a newline */
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	ret = out_open(&of, out);
	if (!ret) {
		ret = write_all(of.fd, b.s, b.len, out);
		if (close(of.fd) && !ret)
			ret = -errno;
		ret = out_finish(&of, ret);
	}
	free(b.s);
	return ret;
}

static int read_text(const char *path, char **text, size_t *len)
{
	int fd = path && strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	struct sbuf b = { 0 };
	char buf[65536];
	ssize_t r;

	if (fd < 0) {
		pr_perror("%s: cannot open", path);
		return -errno;
	}
	sbuf_add(&b, "", 0);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		sbuf_add(&b, buf, r);
	if (r < 0)
		pr_perror("%s: read failed", path ? path : "<stdin>");
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0 || b.oom) {
		free(b.s);
		return r < 0 ? -EIO : -ENOMEM;
	}
	*text = b.s;
	*len = b.len;
	return 0;
}

static int do_encode(const char *in, const char *out)
{
	const char *name = in ? in : "<stdin>";
	struct out_file of;
	struct json *j;
	char err[256];
	size_t len;
	char *text;
	int ret;

	ret = read_text(in, &text, &len);
	if (ret)
		return ret;
	ret = json_parse(text, len, &j, err, sizeof(err));
	free(text);
	if (ret) {
		pr_err("%s: not valid JSON: %s", name, err);
		return ret;
	}
	ret = out_open(&of, out);
	if (!ret)
		ret = out_finish(&of, json_to_img(j, of.fd, out ? out : "<stdout>"));
	json_free(j);
	return ret;
}

static int do_info(const char *in)
{
	struct sbuf b = { 0 };
	unsigned long count;
	struct json *j;
	struct img *img;
	int ret;

	ret = open_input(in, &img);
	if (ret)
		return ret;
	j = json_new(JSON_OBJECT);
	ret = img_count(img, &count);
	if (!ret && (!j || json_obj_add(j, "magic", json_new_str(img_get_desc(img)->name)) ||
		     json_obj_add(j, "count", json_new_uint(count))))
		ret = -ENOMEM;
	img_close(img);
	if (!ret) {
		json_print(&b, j, 4);
		sbuf_addc(&b, '\n');
		ret = b.oom ? -ENOMEM : write_all(STDOUT_FILENO, b.s, b.len, NULL);
	}
	json_free(j);
	free(b.s);
	return ret;
}

enum { OPT_PRETTY = 256, OPT_NOPL };

static const struct option long_opts[] = {
	{ "in", required_argument, NULL, 'i' },
	{ "out", required_argument, NULL, 'o' },
	{ "pretty", no_argument, NULL, OPT_PRETTY },
	{ "nopl", no_argument, NULL, OPT_NOPL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	const char *verb, *in = NULL, *out = NULL;
	bool pretty = false, nopl = false;
	int c, ret;

	log_set_prog("crit");
	if (argc < 2) {
		usage(stderr);
		fprintf(stderr, "crit: error: too few arguments\n");
		return 1;
	}
	verb = argv[1];
	if (!strcmp(verb, "--version")) {
		printf("%s\n", CRIT_VERSION);
		return 0;
	}
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
		usage(stdout);
		return 0;
	}

	optind = 2;
	while ((c = getopt_long(argc, argv, "i:o:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case OPT_PRETTY: pretty = true; break;
		case OPT_NOPL: nopl = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}

	if (!strcmp(verb, "decode")) {
		ret = do_decode(in, out, pretty, false);
	} else if (!strcmp(verb, "encode")) {
		ret = do_encode(in, out);
	} else if (!strcmp(verb, "show") && optind == argc - 1) {
		ret = do_decode(argv[optind], NULL, true, nopl);
	} else if (!strcmp(verb, "info") && optind == argc - 1) {
		ret = do_info(argv[optind]);
	} else if (!strcmp(verb, "x") && optind == argc - 2) {
		ret = crit_explore(argv[optind], argv[optind + 1]);
	} else {
		usage(stderr);
		fprintf(stderr, "crit: error: bad arguments for '%s'\n", verb);
		return 1;
	}
	return ret ? 1 : 0;
}
