/*
 * fuzz_json.c - libFuzzer target for the JSON side of the image tool: any
 * text is parsed and, when it parses, encoded as an image (crit encode).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imgjson.h"
#include "json.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_MSG);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json *j;
	char err[128];
	int fd;

	if (json_parse((const char *)data, size, &j, err, sizeof(err)))
		return 0;
	fd = memfd_create("fuzz", 0);
	if (fd >= 0)
		json_to_img(j, fd, "fuzz");	/* closes fd */
	json_free(j);
	return 0;
}
