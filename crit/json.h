/*
 * json.h - a small JSON tree: parse, build, print the way Python's json
 * module prints (so our output matches crit's text), and compare.
 *
 * Integers are kept exact over the whole int64/uint64 range, which image
 * fields need (registers, addresses).  Objects keep their key order.
 */
#ifndef STASIS_JSON_H
#define STASIS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_INT,
	JSON_DOUBLE,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type type;
	union {
		bool b;
		struct {
			uint64_t mag;	/* magnitude */
			bool neg;	/* value is -mag */
		} i;
		double d;
		struct {
			char *s;	/* NUL-terminated, may hold NULs before len */
			size_t len;
		} str;
		struct {
			struct json **v;
			size_t n, cap;
		} arr;
		struct {
			char **k;
			struct json **v;
			size_t n, cap;
		} obj;
	};
};

struct json *json_new(enum json_type type);
struct json *json_new_bool(bool b);
struct json *json_new_uint(uint64_t v);
struct json *json_new_int(int64_t v);
struct json *json_new_double(double d);
struct json *json_new_str(const char *s);
struct json *json_new_strn(const char *s, size_t len);
/* Takes ownership of @s (malloc'ed, NUL-terminated after @len bytes). */
struct json *json_new_str_owned(char *s, size_t len);

/* Append; the container takes @v (freed if appending fails).  0 or -ENOMEM. */
int json_arr_push(struct json *arr, struct json *v);
int json_obj_add(struct json *obj, const char *key, struct json *v);

struct json *json_obj_get(const struct json *obj, const char *key);
void json_free(struct json *j);

/* Fits in the range?  Sets *v and returns true. */
bool json_get_u64(const struct json *j, uint64_t *v);
bool json_get_i64(const struct json *j, int64_t *v);

/*
 * Parse @len bytes.  On error returns -EINVAL and puts a message with the
 * byte offset into @err.
 */
int json_parse(const char *text, size_t len, struct json **out, char *err, size_t errlen);

/* A growable text buffer. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void sbuf_add(struct sbuf *b, const char *s, size_t len);
void sbuf_addc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Print as Python's json.dumps(v, indent=@indent) does: @indent 0 means
 * one line with ", " and ": " separators; ASCII output, \uXXXX escapes.
 */
void json_print(struct sbuf *b, const struct json *j, int indent);

/* Equal as Python compares decoded JSON: object key order does not matter. */
bool json_equal(const struct json *a, const struct json *b);

#endif
