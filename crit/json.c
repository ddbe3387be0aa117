/*
 * json.c - parse, build, print and compare JSON trees.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_MAX_DEPTH	256

struct json *json_new(enum json_type type)
{
	struct json *j = calloc(1, sizeof(*j));

	if (j)
		j->type = type;
	return j;
}

struct json *json_new_bool(bool b)
{
	struct json *j = json_new(JSON_BOOL);

	if (j)
		j->b = b;
	return j;
}

struct json *json_new_uint(uint64_t v)
{
	struct json *j = json_new(JSON_INT);

	if (j)
		j->i.mag = v;
	return j;
}

struct json *json_new_int(int64_t v)
{
	struct json *j = json_new(JSON_INT);

	if (!j)
		return NULL;
	if (v < 0) {
		j->i.neg = true;
		j->i.mag = -(uint64_t)v;
	} else {
		j->i.mag = v;
	}
	return j;
}

struct json *json_new_double(double d)
{
	struct json *j = json_new(JSON_DOUBLE);

	if (j)
		j->d = d;
	return j;
}

struct json *json_new_str_owned(char *s, size_t len)
{
	struct json *j;

	if (!s)
		return NULL;
	j = json_new(JSON_STRING);
	if (!j) {
		free(s);
		return NULL;
	}
	j->str.s = s;
	j->str.len = len;
	return j;
}

struct json *json_new_strn(const char *s, size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return json_new_str_owned(copy, len);
}

struct json *json_new_str(const char *s)
{
	return json_new_strn(s, strlen(s));
}

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *n;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * size);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

int json_arr_push(struct json *arr, struct json *v)
{
	size_t cap = arr->arr.cap;

	if (!v)
		return -ENOMEM;
	if (grow((void **)&arr->arr.v, &cap, arr->arr.n + 1, sizeof(*arr->arr.v))) {
		json_free(v);
		return -ENOMEM;
	}
	arr->arr.cap = cap;
	arr->arr.v[arr->arr.n++] = v;
	return 0;
}

int json_obj_add(struct json *obj, const char *key, struct json *v)
{
	size_t kcap = obj->obj.cap, vcap = obj->obj.cap;
	char *k;

	if (!v)
		return -ENOMEM;
	k = strdup(key);
	if (!k ||
	    grow((void **)&obj->obj.k, &kcap, obj->obj.n + 1, sizeof(*obj->obj.k)) ||
	    grow((void **)&obj->obj.v, &vcap, obj->obj.n + 1, sizeof(*obj->obj.v))) {
		free(k);
		json_free(v);
		return -ENOMEM;
	}
	/* Both arrays grew from the same capacity, so they stay in step. */
	obj->obj.cap = kcap;
	obj->obj.k[obj->obj.n] = k;
	obj->obj.v[obj->obj.n++] = v;
	return 0;
}

struct json *json_obj_get(const struct json *obj, const char *key)
{
	size_t i;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < obj->obj.n; i++)
		if (!strcmp(obj->obj.k[i], key))
			return obj->obj.v[i];
	return NULL;
}

void json_free(struct json *j)
{
	size_t i;

	if (!j)
		return;
	switch (j->type) {
	case JSON_STRING:
		free(j->str.s);
		break;
	case JSON_ARRAY:
		for (i = 0; i < j->arr.n; i++)
			json_free(j->arr.v[i]);
		free(j->arr.v);
		break;
	case JSON_OBJECT:
		for (i = 0; i < j->obj.n; i++) {
			free(j->obj.k[i]);
			json_free(j->obj.v[i]);
		}
		free(j->obj.k);
		free(j->obj.v);
		break;
	default:
		break;
	}
	free(j);
}

bool json_get_u64(const struct json *j, uint64_t *v)
{
	if (!j || j->type != JSON_INT)
		return false;
	if (j->i.neg && j->i.mag)
		return false;
	*v = j->i.mag;
	return true;
}

bool json_get_i64(const struct json *j, int64_t *v)
{
	if (!j || j->type != JSON_INT)
		return false;
	if (j->i.neg) {
		if (j->i.mag > (uint64_t)INT64_MAX + 1)
			return false;
		*v = (int64_t)(0 - j->i.mag);
	} else {
		if (j->i.mag > INT64_MAX)
			return false;
		*v = j->i.mag;
	}
	return true;
}

/* --- parsing --- */

struct parser {
	const char *p, *start, *end;
	char *err;
	size_t errlen;
	int depth;
};

static int perr(struct parser *ps, const char *what)
{
	if (!ps->err[0])
		snprintf(ps->err, ps->errlen, "%s at byte %zu", what,
			 (size_t)(ps->p - ps->start));
	return -EINVAL;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int parse_value(struct parser *ps, struct json **out);

static int hex4(struct parser *ps, unsigned *v)
{
	unsigned r = 0;
	int i;

	if (ps->end - ps->p < 4)
		return perr(ps, "short \\u escape");
	for (i = 0; i < 4; i++) {
		char c = *ps->p++;

		r <<= 4;
		if (c >= '0' && c <= '9')
			r |= c - '0';
		else if (c >= 'a' && c <= 'f')
			r |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			r |= c - 'A' + 10;
		else
			return perr(ps, "bad \\u escape");
	}
	*v = r;
	return 0;
}

static void put_utf8(struct sbuf *b, unsigned cp)
{
	if (cp < 0x80) {
		sbuf_addc(b, cp);
	} else if (cp < 0x800) {
		sbuf_addc(b, 0xc0 | (cp >> 6));
		sbuf_addc(b, 0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		sbuf_addc(b, 0xe0 | (cp >> 12));
		sbuf_addc(b, 0x80 | ((cp >> 6) & 0x3f));
		sbuf_addc(b, 0x80 | (cp & 0x3f));
	} else {
		sbuf_addc(b, 0xf0 | (cp >> 18));
		sbuf_addc(b, 0x80 | ((cp >> 12) & 0x3f));
		sbuf_addc(b, 0x80 | ((cp >> 6) & 0x3f));
		sbuf_addc(b, 0x80 | (cp & 0x3f));
	}
}

static int parse_escape(struct parser *ps, struct sbuf *b)
{
	unsigned cp, lo;
	char c;

	if (ps->p >= ps->end)
		return perr(ps, "unterminated string");
	c = *ps->p++;
	switch (c) {
	case '"': sbuf_addc(b, '"'); return 0;
	case '\\': sbuf_addc(b, '\\'); return 0;
	case '/': sbuf_addc(b, '/'); return 0;
	case 'b': sbuf_addc(b, '\b'); return 0;
	case 'f': sbuf_addc(b, '\f'); return 0;
	case 'n': sbuf_addc(b, '\n'); return 0;
	case 'r': sbuf_addc(b, '\r'); return 0;
	case 't': sbuf_addc(b, '\t'); return 0;
	case 'u':
		break;
	default:
		return perr(ps, "bad escape");
	}
	if (hex4(ps, &cp))
		return -EINVAL;
	/* A high surrogate followed by a low one makes one code point. */
	if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 &&
	    ps->p[0] == '\\' && ps->p[1] == 'u') {
		const char *save = ps->p;

		ps->p += 2;
		if (hex4(ps, &lo))
			return -EINVAL;
		if (lo >= 0xdc00 && lo < 0xe000)
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		else
			ps->p = save;
	}
	put_utf8(b, cp);
	return 0;
}

static int parse_string(struct parser *ps, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };

	ps->p++;	/* the opening quote */
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end) {
			free(b.s);
			return perr(ps, "unterminated string");
		}
		c = *ps->p++;
		if (c == '"')
			break;
		if (c < 0x20) {
			free(b.s);
			return perr(ps, "control character in string");
		}
		if (c != '\\') {
			sbuf_addc(&b, c);
			continue;
		}
		if (parse_escape(ps, &b)) {
			free(b.s);
			return -EINVAL;
		}
	}
	sbuf_addc(&b, '\0');
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	*out_len = b.len - 1;
	return 0;
}

static int parse_number(struct parser *ps, struct json **out)
{
	const char *s = ps->p;
	bool neg = false, is_float = false;
	uint64_t mag = 0;
	char buf[64];

	if (*ps->p == '-') {
		neg = true;
		ps->p++;
	}
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return perr(ps, "bad number");
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		unsigned d = *ps->p++ - '0';

		if (mag > (UINT64_MAX - d) / 10)
			return perr(ps, "integer out of range");
		mag = mag * 10 + d;
	}
	while (ps->p < ps->end && strchr(".eE+-0123456789", *ps->p)) {
		is_float = true;
		ps->p++;
	}
	if (!is_float) {
		*out = json_new(JSON_INT);
		if (!*out)
			return -ENOMEM;
		(*out)->i.mag = mag;
		(*out)->i.neg = neg;
		return 0;
	}
	if ((size_t)(ps->p - s) >= sizeof(buf))
		return perr(ps, "number too long");
	memcpy(buf, s, ps->p - s);
	buf[ps->p - s] = '\0';
	*out = json_new_double(strtod(buf, NULL));
	return *out ? 0 : -ENOMEM;
}

/* After an array's or object's item: 1 at a ',' (more follow), 0 at @close, else an error. */
static int next_item(struct parser *ps, char close)
{
	skip_ws(ps);
	if (ps->p < ps->end && (*ps->p == ',' || *ps->p == close))
		return *ps->p++ == ',';
	return close == ']' ? perr(ps, "expected ',' or ']'") : perr(ps, "expected ',' or '}'");
}

static int parse_array(struct parser *ps, struct json **out)
{
	struct json *arr = json_new(JSON_ARRAY), *v;
	int ret;

	if (!arr)
		return -ENOMEM;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		*out = arr;
		return 0;
	}
	for (;;) {
		ret = parse_value(ps, &v);
		if (!ret)
			ret = json_arr_push(arr, v);
		if (ret)
			goto err;
		ret = next_item(ps, ']');
		if (ret < 0)
			goto err;
		if (!ret)
			break;
	}
	*out = arr;
	return 0;
err:
	json_free(arr);
	return ret;
}

static int parse_object(struct parser *ps, struct json **out)
{
	struct json *obj = json_new(JSON_OBJECT), *v;
	char *key = NULL;
	size_t klen;
	int ret;

	if (!obj)
		return -ENOMEM;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		*out = obj;
		return 0;
	}
	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"') {
			ret = perr(ps, "expected a key");
			goto err;
		}
		ret = parse_string(ps, &key, &klen);
		if (ret)
			goto err;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			ret = perr(ps, "expected ':'");
			goto err;
		}
		ps->p++;
		ret = parse_value(ps, &v);
		if (!ret)
			ret = json_obj_add(obj, key, v);
		free(key);
		key = NULL;
		if (ret)
			goto err;
		ret = next_item(ps, '}');
		if (ret < 0)
			goto err;
		if (!ret)
			break;
	}
	*out = obj;
	return 0;
err:
	free(key);
	json_free(obj);
	return ret;
}

static bool match_word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n))
		return false;
	ps->p += n;
	return true;
}

static int parse_value(struct parser *ps, struct json **out)
{
	int ret;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return perr(ps, "unexpected end of input");
	if (++ps->depth > JSON_MAX_DEPTH)
		return perr(ps, "nesting too deep");

	switch (*ps->p) {
	case '{':
		ret = parse_object(ps, out);
		break;
	case '[':
		ret = parse_array(ps, out);
		break;
	case '"': {
		char *s;
		size_t len;

		ret = parse_string(ps, &s, &len);
		if (!ret) {
			*out = json_new_str_owned(s, len);
			ret = *out ? 0 : -ENOMEM;
		}
		break;
	}
	default:
		if (match_word(ps, "true")) {
			*out = json_new_bool(true);
		} else if (match_word(ps, "false")) {
			*out = json_new_bool(false);
		} else if (match_word(ps, "null")) {
			*out = json_new(JSON_NULL);
		} else {
			ret = parse_number(ps, out);
			break;
		}
		ret = *out ? 0 : -ENOMEM;
	}
	ps->depth--;
	return ret;
}

int json_parse(const char *text, size_t len, struct json **out, char *err, size_t errlen)
{
	struct parser ps = {
		.p = text, .start = text, .end = text + len,
		.err = err, .errlen = errlen,
	};
	struct json *j;
	int ret;

	err[0] = '\0';
	ret = parse_value(&ps, &j);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		return ret;
	}
	skip_ws(&ps);
	if (ps.p != ps.end) {
		json_free(j);
		return perr(&ps, "extra data after the value");
	}
	*out = j;
	return 0;
}

/* --- printing --- */

void sbuf_add(struct sbuf *b, const char *s, size_t len)
{
	if (b->oom)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		char *n;

		while (ncap < b->len + len + 1)
			ncap *= 2;
		n = realloc(b->s, ncap);
		if (!n) {
			b->oom = true;
			return;
		}
		b->s = n;
		b->cap = ncap;
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

void sbuf_addc(struct sbuf *b, char c)
{
	sbuf_add(b, &c, 1);
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sbuf_add(b, tmp, n);
		return;
	}
	{
		char *big = malloc(n + 1);

		if (!big) {
			b->oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, n + 1, fmt, ap);
		va_end(ap);
		sbuf_add(b, big, n);
		free(big);
	}
}

/* Decode one UTF-8 sequence; invalid bytes come back one at a time as U+00XX. */
static size_t get_utf8(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0], need, v, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		need = 1;
		v = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		need = 2;
		v = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		need = 3;
		v = c & 0x07;
	} else {
		goto bad;
	}
	if (len < need + 1)
		goto bad;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return need + 1;
bad:
	*cp = c;
	return 1;
}

static void print_string(struct sbuf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	sbuf_addc(b, '"');
	while (i < len) {
		unsigned cp;

		i += get_utf8(u + i, len - i, &cp);
		switch (cp) {
		case '"': sbuf_add(b, "\\\"", 2); continue;
		case '\\': sbuf_add(b, "\\\\", 2); continue;
		case '\n': sbuf_add(b, "\\n", 2); continue;
		case '\r': sbuf_add(b, "\\r", 2); continue;
		case '\t': sbuf_add(b, "\\t", 2); continue;
		case '\b': sbuf_add(b, "\\b", 2); continue;
		case '\f': sbuf_add(b, "\\f", 2); continue;
		}
		if (cp >= 0x20 && cp < 0x7f) {
			sbuf_addc(b, cp);
		} else if (cp < 0x10000) {
			sbuf_printf(b, "\\u%04x", cp);
		} else {
			cp -= 0x10000;
			sbuf_printf(b, "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
				    0xdc00 + (cp & 0x3ff));
		}
	}
	sbuf_addc(b, '"');
}

static void newline(struct sbuf *b, int indent, int level)
{
	sbuf_addc(b, '\n');
	for (int i = 0; i < indent * level; i++)
		sbuf_addc(b, ' ');
}

static void print_double(struct sbuf *b, double d)
{
	char tmp[64];

	/* Python prints the shortest repr that reads back the same. */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (isinf(d) || isnan(d))
		snprintf(tmp, sizeof(tmp), "%s", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
	else if (!strpbrk(tmp, ".eEn"))
		strcat(tmp, ".0");
	sbuf_add(b, tmp, strlen(tmp));
}

static void print_value(struct sbuf *b, const struct json *j, int indent, int level)
{
	const char *sep = indent ? "," : ", ";
	size_t i;

	switch (j->type) {
	case JSON_NULL:
		sbuf_add(b, "null", 4);
		break;
	case JSON_BOOL:
		sbuf_add(b, j->b ? "true" : "false", j->b ? 4 : 5);
		break;
	case JSON_INT:
		sbuf_printf(b, "%s%llu", j->i.neg && j->i.mag ? "-" : "",
			    (unsigned long long)j->i.mag);
		break;
	case JSON_DOUBLE:
		print_double(b, j->d);
		break;
	case JSON_STRING:
		print_string(b, j->str.s, j->str.len);
		break;
	case JSON_ARRAY:
		if (!j->arr.n) {
			sbuf_add(b, "[]", 2);
			break;
		}
		sbuf_addc(b, '[');
		for (i = 0; i < j->arr.n; i++) {
			if (i)
				sbuf_add(b, sep, strlen(sep));
			if (indent)
				newline(b, indent, level + 1);
			print_value(b, j->arr.v[i], indent, level + 1);
		}
		if (indent)
			newline(b, indent, level);
		sbuf_addc(b, ']');
		break;
	case JSON_OBJECT:
		if (!j->obj.n) {
			sbuf_add(b, "{}", 2);
			break;
		}
		sbuf_addc(b, '{');
		for (i = 0; i < j->obj.n; i++) {
			if (i)
				sbuf_add(b, sep, strlen(sep));
			if (indent)
				newline(b, indent, level + 1);
			print_string(b, j->obj.k[i], strlen(j->obj.k[i]));
			sbuf_add(b, ": ", 2);
			print_value(b, j->obj.v[i], indent, level + 1);
		}
		if (indent)
			newline(b, indent, level);
		sbuf_addc(b, '}');
		break;
	}
}

void json_print(struct sbuf *b, const struct json *j, int indent)
{
	print_value(b, j, indent, 0);
}

bool json_equal(const struct json *a, const struct json *b)
{
	size_t i;

	/* Python: 1 == 1.0 and True == 1; images never mix these, so be strict. */
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case JSON_NULL:
		return true;
	case JSON_BOOL:
		return a->b == b->b;
	case JSON_INT:
		return a->i.mag == b->i.mag && (a->i.neg == b->i.neg || !a->i.mag);
	case JSON_DOUBLE:
		return a->d == b->d;
	case JSON_STRING:
		return a->str.len == b->str.len && !memcmp(a->str.s, b->str.s, a->str.len);
	case JSON_ARRAY:
		if (a->arr.n != b->arr.n)
			return false;
		for (i = 0; i < a->arr.n; i++)
			if (!json_equal(a->arr.v[i], b->arr.v[i]))
				return false;
		return true;
	case JSON_OBJECT:
		if (a->obj.n != b->obj.n)
			return false;
		for (i = 0; i < a->obj.n; i++) {
			const struct json *o = json_obj_get(b, a->obj.k[i]);

			if (!o || !json_equal(a->obj.v[i], o))
				return false;
		}
		return true;
	}
	return false;
}
