/*
 * fuzz_vdso.c - libFuzzer target for the vDSO reader: any bytes, read as
 * the image's vDSO, must give a clean error or a symbol list whose every
 * entry lies inside them; a proxy made of them stays inside them too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vdso.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_MSG);	/* errors are the expected outcome: keep quiet */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vdso_syms old, cur;
	uint8_t *buf;

	if (vdso_parse(data, size, "fuzz", &old))
		return 0;
	for (uint32_t i = 0; i < old.nr; i++) {
		if (old.sym[i].off >= size || old.sym[i].size > size - old.sym[i].off)
			abort();
	}
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	/* This kernel's vDSO far away and near, and missing, all three. */
	cur = old;
	cur.nr /= 2;
	vdso_make_proxy(buf, 0x7f0000000000ull, &old, &cur, 0x10000000ull);
	vdso_make_proxy(buf, 0x7f0000000000ull, &old, &cur, 0x7f0000100000ull);
	vdso_make_proxy(buf, 0x7f0000000000ull, &old, NULL, 0);
	vdso_same_layout(&old, &cur);
	free(buf);
	return 0;
}
