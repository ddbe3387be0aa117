/*
 * fuzz_image.c - libFuzzer target for the entry reader: any bytes, read as
 * an image file and turned into JSON both ways crit prints it, must give a
 * clean error or a result, never a crash, a hang or a leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imgjson.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_MSG);	/* errors are the expected outcome: keep quiet */
	return 0;
}

static void decode(int fd, bool raw_pages, bool pretty, bool nopl)
{
	struct sbuf b = { 0 };
	struct json *j;
	struct img *img;

	lseek(fd, 0, SEEK_SET);
	if (img_open_fd_read(&img, fd, "fuzz", raw_pages))
		return;
	if (!img_to_json(img, pretty, nopl, &j)) {
		json_print(&b, j, pretty ? 4 : 0);
		free(b.s);
		json_free(j);
	}
	img_close(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", 0);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		decode(fd, false, true, false);
		decode(fd, false, false, true);
		/* A leading byte picks the raw pages reader now and then. */
		if (size && data[0] == 0)
			decode(fd, true, false, false);
	}
	close(fd);
	return 0;
}
