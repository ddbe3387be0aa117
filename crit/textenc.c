/*
 * textenc.c - bytes fields as crit prints them: base64, and the
 * quoted-printable of unix socket names (RFC 2045).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pbjson.h"

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct json *b64_to_json(const uint8_t *d, size_t len)
{
	struct sbuf b = { 0 };
	size_t i, col = 0;

	sbuf_add(&b, "", 0);
	for (i = 0; i < len; i += 3) {
		uint32_t v = d[i] << 16;
		char q[4];

		if (i + 1 < len)
			v |= d[i + 1] << 8;
		if (i + 2 < len)
			v |= d[i + 2];
		q[0] = b64chars[(v >> 18) & 63];
		q[1] = b64chars[(v >> 12) & 63];
		q[2] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		q[3] = i + 2 < len ? b64chars[v & 63] : '=';
		sbuf_add(&b, q, 4);
		col += 4;
		/* encodebytes: a newline after every 76 characters and at the end */
		if (col == 76 || i + 3 >= len) {
			sbuf_addc(&b, '\n');
			col = 0;
		}
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return json_new_str_owned(b.s, b.len);
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? p - b64chars : -1;
}

/* Like binascii.a2b_base64: characters outside the alphabet are skipped. */
int b64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t *buf = malloc(len / 4 * 3 + 3);
	uint32_t acc = 0;
	size_t n = 0, i;
	int bits = 0, pad = 0;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		int v;

		if (s[i] == '=') {
			pad++;
			continue;
		}
		v = b64_val(s[i]);
		if (v < 0)
			continue;
		if (pad) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = acc >> bits;
		}
	}
	if (bits >= 6) {	/* a lone sixth of a byte is not base64 */
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

/* Quoted-printable, for unix socket names (abstract names start with NUL). */
struct json *qp_to_json(const uint8_t *d, size_t len)
{
	struct sbuf b = { 0 };
	size_t col = 0;

	sbuf_add(&b, "", 0);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = d[i];
		bool last = i + 1 == len || d[i + 1] == '\n';
		char q[4];
		size_t w;

		if (c == '\n') {
			sbuf_addc(&b, '\n');
			col = 0;
			continue;
		}
		if (c == '=' || c < 32 || c > 126 || ((c == ' ' || c == '\t') && last))
			w = snprintf(q, sizeof(q), "=%02X", c);
		else
			w = snprintf(q, sizeof(q), "%c", c);
		if (col + w > 75) {
			sbuf_add(&b, "=\n", 2);
			col = 0;
		}
		sbuf_add(&b, q, w);
		col += w;
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return json_new_str_owned(b.s, b.len);
}

int qp_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t *buf = malloc(len + 1);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (s[i] != '=') {
			buf[n++] = s[i];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\n') {
			i++;
			continue;
		}
		if (i + 2 < len && sscanf(s + i + 1, "%2x", &v) == 1) {
			buf[n++] = v;
			i += 2;
			continue;
		}
		buf[n++] = '=';
	}
	*out = buf;
	*out_len = n;
	return 0;
}
