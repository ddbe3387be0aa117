/*
 * pbjson.h - protobuf-c messages to and from the JSON that CRIU's crit
 * prints.
 *
 * Field names are the JSON keys, in field-number order; enums print by
 * name; bytes print as base64 (Python's encodebytes: 76-column lines, each
 * ending in "\n").  With @pretty, the (criu) field options apply: hex
 * integers as "0x..", flag sets as "A | B", devices as "major:minor",
 * addresses as text.  Reading back accepts both forms, as crit does.
 *
 * Unknown fields of a message (from a newer schema) are kept under the key
 * "__unknown_fields__" so that decode followed by encode loses nothing.
 */
#ifndef STASIS_PBJSON_H
#define STASIS_PBJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "json.h"

#define PBJSON_UNKNOWN_KEY	"__unknown_fields__"

/* NULL on allocation failure only. */
struct json *pb_to_json(const ProtobufCMessage *msg, bool pretty);

/*
 * Build a message of type @md from the JSON object @j.  Returns 0, or
 * -EINVAL with a message naming the field in @err.  Free the result with
 * protobuf_c_message_free_unpacked(msg, NULL).
 */
int json_to_pb(const struct json *j, const ProtobufCMessageDescriptor *md,
	       ProtobufCMessage **msg, char *err, size_t errlen);

/* Base64 as Python's base64.encodebytes / decodebytes. */
struct json *b64_to_json(const uint8_t *data, size_t len);
int b64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len);
/* textenc.c: quoted-printable, as crit shows unix socket names. */
struct json *qp_to_json(const uint8_t *data, size_t len);
int qp_decode(const char *s, size_t len, uint8_t **out, size_t *out_len);

/* Read an unsigned integer field of @msg by name; false if absent or not integral. */
bool pb_get_uint(const ProtobufCMessage *msg, const char *name, uint64_t *v);

#endif
