/*
 * pbopts.h - the (criu) presentation options of image fields (opts.proto).
 *
 * protoc-c does not keep custom options in its descriptors, so the build
 * extracts them from our .proto files (gen-opts.awk) into a sorted table.
 */
#ifndef STASIS_PBOPTS_H
#define STASIS_PBOPTS_H

#include <protobuf-c/protobuf-c.h>

struct pb_field_opts {
	const char *key;	/* "message.field" */
	unsigned char hex, ipadd, dev, odev;
	const char *flags;	/* flag table name, or NULL */
	const char *dict;	/* value-name table name, or NULL */
	const char *conv;	/* bytes conversion name, or NULL */
};

/* Options of @field in @md, or NULL when the field has none. */
const struct pb_field_opts *pb_field_opts(const ProtobufCMessageDescriptor *md,
					  const ProtobufCFieldDescriptor *field);

#endif
