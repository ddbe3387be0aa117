/*
 * pbopts.c - look up a field's presentation options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbopts.h"

static const struct pb_field_opts opts_table[] = {
#include "pbopts-table.inc"
};

static int cmp_key(const void *key, const void *entry)
{
	return strcmp(key, ((const struct pb_field_opts *)entry)->key);
}

const struct pb_field_opts *pb_field_opts(const ProtobufCMessageDescriptor *md,
					  const ProtobufCFieldDescriptor *field)
{
	char key[256];

	snprintf(key, sizeof(key), "%s.%s", md->name, field->name);
	return bsearch(key, opts_table, sizeof(opts_table) / sizeof(opts_table[0]),
		       sizeof(opts_table[0]), cmp_key);
}
