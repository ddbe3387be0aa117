/*
 * pbjson.c - walk protobuf-c descriptors to convert messages to JSON and back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"
#include "pbopts.h"

/* --- the tables crit prints flags and values with --- */

struct name_val {
	const char *name;
	uint64_t val;
};

static const struct name_val mmap_prot[] = {
	{ "PROT_READ", 0x1 }, { "PROT_WRITE", 0x2 }, { "PROT_EXEC", 0x4 }, { NULL, 0 },
};

static const struct name_val mmap_flags[] = {
	{ "MAP_SHARED", 0x1 }, { "MAP_PRIVATE", 0x2 }, { "MAP_DROPPABLE", 0x8 },
	{ "MAP_ANON", 0x20 }, { "MAP_GROWSDOWN", 0x100 }, { NULL, 0 },
};

static const struct name_val mmap_status[] = {
	{ "VMA_AREA_NONE", 0 }, { "VMA_AREA_REGULAR", 1 << 0 },
	{ "VMA_AREA_STACK", 1 << 1 }, { "VMA_AREA_VSYSCALL", 1 << 2 },
	{ "VMA_AREA_VDSO", 1 << 3 }, { "VMA_AREA_HEAP", 1 << 5 },
	{ "VMA_FILE_PRIVATE", 1 << 6 }, { "VMA_FILE_SHARED", 1 << 7 },
	{ "VMA_ANON_SHARED", 1 << 8 }, { "VMA_ANON_PRIVATE", 1 << 9 },
	{ "VMA_AREA_SYSVIPC", 1 << 10 }, { "VMA_AREA_SOCKET", 1 << 11 },
	{ "VMA_AREA_VVAR", 1 << 12 }, { "VMA_AREA_AIORING", 1 << 13 },
	{ "VMA_AREA_MEMFD", 1 << 14 }, { "VMA_AREA_SHSTK", 1 << 15 },
	{ "VMA_AREA_UPROBES", 1 << 17 }, { "VMA_UNSUPP", 1u << 31 }, { NULL, 0 },
};

static const struct name_val rfile_flags[] = {
	{ "O_WRONLY", 01 }, { "O_RDWR", 02 }, { "O_CREAT", 0100 }, { "O_EXCL", 0200 },
	{ "O_NOCTTY", 0400 }, { "O_TRUNC", 01000 }, { "O_APPEND", 02000 },
	{ "O_NONBLOCK", 04000 }, { "O_DSYNC", 010000 }, { "FASYNC", 020000 },
	{ "O_DIRECT", 040000 }, { "O_LARGEFILE", 0100000 }, { "O_DIRECTORY", 0200000 },
	{ "O_NOFOLLOW", 0400000 }, { "O_NOATIME", 01000000 }, { "O_CLOEXEC", 02000000 },
	{ NULL, 0 },
};

static const struct name_val pmap_flags[] = {
	{ "PE_PARENT", 1 << 0 }, { "PE_LAZY", 1 << 1 }, { "PE_PRESENT", 1 << 2 }, { NULL, 0 },
};

static const struct name_val seals_flags[] = {
	{ "F_SEAL_SEAL", 0x1 }, { "F_SEAL_SHRINK", 0x2 }, { "F_SEAL_GROW", 0x4 },
	{ "F_SEAL_WRITE", 0x8 }, { "F_SEAL_FUTURE_WRITE", 0x10 }, { NULL, 0 },
};

static const struct {
	const char *name;
	const struct name_val *tab;
} flag_tables[] = {
	{ "mmap.prot", mmap_prot }, { "mmap.flags", mmap_flags },
	{ "mmap.status", mmap_status }, { "rfile.flags", rfile_flags },
	{ "pmap.flags", pmap_flags }, { "seals.flags", seals_flags },
};

static const struct name_val task_state[] = {
	{ "Alive", 1 }, { "Zombie", 3 }, { "Stopped", 6 }, { NULL, 0 },
};
static const struct name_val sk_family[] = {
	{ "UNIX", 1 }, { "INET", 2 }, { "INET6", 10 }, { "NETLINK", 16 },
	{ "PACKET", 17 }, { NULL, 0 },
};
static const struct name_val sk_type[] = {
	{ "STREAM", 1 }, { "DGRAM", 2 }, { "RAW", 3 }, { "SEQPACKET", 5 },
	{ "PACKET", 10 }, { NULL, 0 },
};
static const struct name_val sk_state[] = {
	{ "ESTABLISHED", 1 }, { "SYN_SENT", 2 }, { "SYN_RECV", 3 }, { "FIN_WAIT1", 4 },
	{ "FIN_WAIT2", 5 }, { "TIME_WAIT", 6 }, { "CLOSE", 7 }, { "CLOSE_WAIT", 8 },
	{ "LAST_ACK", 9 }, { "LISTEN", 10 }, { NULL, 0 },
};
static const struct name_val sk_proto[] = {
	{ "IP", 0 }, { "TCP", 6 }, { "UDP", 17 }, { "UDPLITE", 136 }, { NULL, 0 },
};

/* A dict table is chosen by its name and the field's own name, as crit does. */
static const struct {
	const char *dict, *field;
	const struct name_val *tab;
} dict_tables[] = {
	{ "gen", "task_state", task_state },
	{ "sk", "family", sk_family }, { "sk", "type", sk_type },
	{ "sk", "state", sk_state }, { "sk", "proto", sk_proto },
};

static const struct name_val *find_flags(const char *name)
{
	for (size_t i = 0; i < sizeof(flag_tables) / sizeof(flag_tables[0]); i++)
		if (!strcmp(flag_tables[i].name, name))
			return flag_tables[i].tab;
	return NULL;
}

static const struct name_val *find_dict(const char *dict, const char *field)
{
	for (size_t i = 0; i < sizeof(dict_tables) / sizeof(dict_tables[0]); i++)
		if (!strcmp(dict_tables[i].dict, dict) && !strcmp(dict_tables[i].field, field))
			return dict_tables[i].tab;
	return NULL;
}

/* --- reading field values --- */

struct num {
	uint64_t mag;
	bool neg;
};

static void *field_at(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	return (char *)m + f->offset;
}

static size_t type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}

static bool is_integer(ProtobufCType t)
{
	return t != PROTOBUF_C_TYPE_BOOL && t != PROTOBUF_C_TYPE_ENUM &&
	       t != PROTOBUF_C_TYPE_FLOAT && t != PROTOBUF_C_TYPE_DOUBLE &&
	       t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES &&
	       t != PROTOBUF_C_TYPE_MESSAGE;
}

static struct num get_num(ProtobufCType t, const void *p)
{
	struct num n = { 0, false };
	int64_t s;

	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		s = *(const int32_t *)p;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		s = *(const int64_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		n.mag = *(const uint64_t *)p;
		return n;
	case PROTOBUF_C_TYPE_BOOL:
		n.mag = *(const protobuf_c_boolean *)p != 0;
		return n;
	default:	/* uint32, fixed32 */
		n.mag = *(const uint32_t *)p;
		return n;
	}
	n.neg = s < 0;
	n.mag = s < 0 ? -(uint64_t)s : (uint64_t)s;
	return n;
}

static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const void *q = (const char *)m + f->quantifier_offset;
	const void *p = field_at(m, f);

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)q > 0;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)q == f->id;
	/* pointers are present when set and, for optional ones, not the default */
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return (f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) ||
		       *(const void *const *)p;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
		const void *ptr = *(const void *const *)p;

		return ptr && ptr != f->default_value;
	}
	return *(const protobuf_c_boolean *)q;
}

bool pb_get_uint(const ProtobufCMessage *msg, const char *name, uint64_t *v)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
	struct num n;

	if (!f || f->label == PROTOBUF_C_LABEL_REPEATED || !is_integer(f->type) ||
	    !field_present(msg, f))
		return false;
	n = get_num(f->type, field_at(msg, f));
	if (n.neg)
		return false;
	*v = n.mag;
	return true;
}

/* --- message to JSON --- */

static struct json *hex_str(struct num n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%s0x%llx", n.neg ? "-" : "", (unsigned long long)n.mag);
	return json_new_str(buf);
}

static struct json *flags_str(uint64_t v, const struct name_val *tab)
{
	struct sbuf b = { 0 };
	uint64_t known = 0;
	struct json *j;

	sbuf_add(&b, "", 0);
	for (; tab->name; tab++) {
		known |= tab->val;
		if (!(v & tab->val))
			continue;
		if (b.len)
			sbuf_add(&b, " | ", 3);
		sbuf_add(&b, tab->name, strlen(tab->name));
	}
	v &= ~known;
	if (v)
		sbuf_printf(&b, "%s0x%llx", b.len ? " | " : "", (unsigned long long)v);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	j = json_new_str_owned(b.s, b.len);
	return j;
}

static struct json *dev_str(uint64_t v, bool old)
{
	char buf[48];
	unsigned long long maj, min;

	if (old) {	/* glibc's dev_t layout */
		maj = ((v >> 8) & 0xfff) | ((v >> 32) & ~0xfffULL);
		min = (v & 0xff) | ((v >> 12) & ~0xffULL);
	} else {	/* the kernel's: 12-bit major above a 20-bit minor */
		maj = v >> 20;
		min = v & ((1 << 20) - 1);
	}
	snprintf(buf, sizeof(buf), "%llu:%llu", maj, min);
	return json_new_str(buf);
}

static struct json *num_json(struct num n)
{
	struct json *j = json_new_uint(n.mag);

	if (j)
		j->i.neg = n.neg;
	return j;
}

static struct json *msg_to_json(const ProtobufCMessage *m, bool pretty, bool hex);

static struct json *value_to_json(const ProtobufCFieldDescriptor *f,
				  const struct pb_field_opts *o,
				  const void *p, bool pretty, bool hex)
{
	const ProtobufCEnumValue *ev;
	const ProtobufCBinaryData *bd;
	const struct name_val *tab;
	struct num n;

	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		return msg_to_json(*(ProtobufCMessage *const *)p, pretty, hex);
	case PROTOBUF_C_TYPE_STRING:
		return json_new_str(*(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES:
		bd = p;
		if (o && o->conv && !strcmp(o->conv, "unix_name"))
			return qp_to_json(bd->data, bd->len);
		return b64_to_json(bd->data, bd->len);
	case PROTOBUF_C_TYPE_BOOL:
		return json_new_bool(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_new_double(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_new_double(*(const double *)p);
	case PROTOBUF_C_TYPE_ENUM:
		ev = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
		if (ev)
			return json_new_str(ev->name);
		return json_new_int(*(const int *)p);
	default:
		break;
	}

	n = get_num(f->type, p);
	if (!pretty)
		return num_json(n);
	if (hex)
		return hex_str(n);
	if (o && o->dev)
		return dev_str(n.mag, o->odev);
	if (o && o->flags) {
		tab = find_flags(o->flags);
		return tab ? flags_str(n.mag, tab) : hex_str(n);
	}
	if (o && o->dict && !n.neg) {
		tab = find_dict(o->dict, f->name);
		for (; tab && tab->name; tab++)
			if (tab->val == n.mag)
				return json_new_str(tab->name);
	}
	return num_json(n);
}

/* IPv6 text as Python's ipaddress prints it: the longest zero run (2+) as "::". */
static void ip6_text(const uint32_t w[4], char *out, size_t len)
{
	uint16_t h[8];
	int best = -1, best_len = 0, i, n = 0;

	for (i = 0; i < 4; i++) {
		uint32_t v = ntohl(w[i]);

		h[2 * i] = v >> 16;
		h[2 * i + 1] = v & 0xffff;
	}
	for (i = 0; i < 8; i++) {
		int j = i;

		while (j < 8 && !h[j])
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		if (j > i)
			i = j - 1;
	}
	if (best_len < 2)
		best = -1;
	out[0] = '\0';
	for (i = 0; i < 8; i++) {
		if (i == best) {
			n += snprintf(out + n, len - n, "::");
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			n += snprintf(out + n, len - n, ":");
		else if (i && best < 0)
			n += snprintf(out + n, len - n, ":");
		n += snprintf(out + n, len - n, "%x", h[i]);
	}
}

static struct json *ip_to_json(const uint32_t *w, size_t n)
{
	struct json *arr = json_new(JSON_ARRAY);
	char buf[64];

	if (!arr)
		return NULL;
	if (n == 1) {
		inet_ntop(AF_INET, w, buf, sizeof(buf));
	} else {
		ip6_text(w, buf, sizeof(buf));
	}
	if (json_arr_push(arr, json_new_str(buf))) {
		json_free(arr);
		return NULL;
	}
	return arr;
}

static struct json *unknown_to_json(const ProtobufCMessage *m)
{
	struct json *arr = json_new(JSON_ARRAY);

	for (unsigned i = 0; arr && i < m->n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
		struct json *o = json_new(JSON_OBJECT);

		if (!o || json_obj_add(o, "tag", json_new_uint(u->tag)) ||
		    json_obj_add(o, "wire_type", json_new_uint(u->wire_type)) ||
		    json_obj_add(o, "data", b64_to_json(u->data, u->len)) ||
		    json_arr_push(arr, o)) {
			json_free(o);
			json_free(arr);
			return NULL;
		}
	}
	return arr;
}

static struct json *field_to_json(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
				  bool pretty, bool hex)
{
	const struct pb_field_opts *o = pb_field_opts(m->descriptor, f);
	const void *p = field_at(m, f);
	struct json *arr;
	size_t n, i, sz;

	if (o && o->hex)
		hex = true;
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return value_to_json(f, o, p, pretty, hex);

	n = *(const size_t *)((const char *)m + f->quantifier_offset);
	p = *(void *const *)p;
	if (pretty && o && o->ipadd && (n == 1 || n == 4))
		return ip_to_json(p, n);
	arr = json_new(JSON_ARRAY);
	sz = type_size(f->type);
	for (i = 0; arr && i < n; i++)
		if (json_arr_push(arr, value_to_json(f, o, (const char *)p + i * sz, pretty, hex))) {
			json_free(arr);
			return NULL;
		}
	return arr;
}

static struct json *msg_to_json(const ProtobufCMessage *m, bool pretty, bool hex)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	struct json *obj = json_new(JSON_OBJECT);

	for (unsigned i = 0; obj && i < md->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &md->fields[i];

		if (!field_present(m, f))
			continue;
		if (json_obj_add(obj, f->name, field_to_json(m, f, pretty, hex))) {
			json_free(obj);
			return NULL;
		}
	}
	if (obj && m->n_unknown_fields &&
	    json_obj_add(obj, PBJSON_UNKNOWN_KEY, unknown_to_json(m))) {
		json_free(obj);
		return NULL;
	}
	return obj;
}

struct json *pb_to_json(const ProtobufCMessage *msg, bool pretty)
{
	return msg_to_json(msg, pretty, false);
}

/* --- JSON to message --- */

struct conv {
	char *err;
	size_t errlen;
	const char *msg;	/* message being built, for errors */
};

static int cerr(struct conv *c, const ProtobufCFieldDescriptor *f, const char *what)
{
	snprintf(c->err, c->errlen, "%s.%s: %s", c->msg, f ? f->name : "?", what);
	return -EINVAL;
}

/* int(s, 0) as Python does it: optional sign, 0x/0o/0b prefixes, underscores. */
static bool parse_int_text(const char *s, struct num *n)
{
	unsigned base = 10;
	uint64_t v = 0;
	bool any = false;

	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	n->neg = false;
	if (*s == '-' || *s == '+')
		n->neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
		base = 8;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		base = 2;
		s += 2;
	}
	for (; *s && *s != ' ' && *s != '\t' && *s != '\n'; s++) {
		unsigned d;

		if (*s == '_')
			continue;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		if (d >= base || v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
		any = true;
	}
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	n->mag = v;
	return any && !*s;
}

static bool lookup_name(const struct name_val *tab, const char *name, uint64_t *v)
{
	for (; tab && tab->name; tab++)
		if (!strcmp(tab->name, name)) {
			*v = tab->val;
			return true;
		}
	return false;
}

/* "A | B | 0x10" back to a number; every part a known name or an integer. */
static bool parse_flags(const char *s, const struct name_val *tab, struct num *n)
{
	char *copy = strdup(s), *save = NULL, *tok;
	bool ok = true;

	n->mag = 0;
	n->neg = false;
	if (!copy)
		return false;
	for (tok = strtok_r(copy, "|", &save); tok && ok; tok = strtok_r(NULL, "|", &save)) {
		struct num part;
		char *e;

		while (*tok == ' ')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && e[-1] == ' ')
			*--e = '\0';
		if (lookup_name(tab, tok, &part.mag))
			n->mag |= part.mag;
		else if (parse_int_text(tok, &part) && !part.neg)
			n->mag += part.mag;
		else
			ok = false;
	}
	free(copy);
	return ok;
}

static bool parse_dev(const char *s, bool old, struct num *n)
{
	unsigned long long maj, min;
	char end;

	if (sscanf(s, "%llu:%llu%c", &maj, &min, &end) != 2)
		return false;
	n->neg = false;
	if (old)
		n->mag = ((maj & 0xfff) << 8) | ((maj & ~0xfffULL) << 32) |
			 (min & 0xff) | ((min & ~0xffULL) << 12);
	else
		n->mag = maj << 20 | min;
	return true;
}

/* The number a JSON value stands for in an integer field. */
static int json_num(struct conv *c, const ProtobufCFieldDescriptor *f,
		    const struct pb_field_opts *o, const struct json *v, struct num *n)
{
	const char *s;

	if (v->type == JSON_INT) {
		n->mag = v->i.mag;
		n->neg = v->i.neg && v->i.mag;
		return 0;
	}
	if (v->type == JSON_BOOL) {
		n->mag = v->b;
		n->neg = false;
		return 0;
	}
	if (v->type != JSON_STRING)
		return cerr(c, f, "expected an integer");
	s = v->str.s;
	if (o && o->dev)
		return parse_dev(s, o->odev, n) ? 0 : cerr(c, f, "bad major:minor");
	if (o && o->flags && find_flags(o->flags))
		return parse_flags(s, find_flags(o->flags), n) ? 0 : cerr(c, f, "bad flags");
	if (o && o->dict && lookup_name(find_dict(o->dict, f->name), s, &n->mag)) {
		n->neg = false;
		return 0;
	}
	return parse_int_text(s, n) ? 0 : cerr(c, f, "bad integer");
}

static int store_num(struct conv *c, const ProtobufCFieldDescriptor *f, struct num n, void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		if (n.neg ? n.mag > 0x80000000ULL : n.mag > INT32_MAX)
			return cerr(c, f, "value out of range");
		*(int32_t *)p = n.neg ? (int32_t)(0 - n.mag) : (int32_t)n.mag;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (n.neg ? n.mag > (uint64_t)INT64_MAX + 1 : n.mag > INT64_MAX)
			return cerr(c, f, "value out of range");
		*(int64_t *)p = n.neg ? (int64_t)(0 - n.mag) : (int64_t)n.mag;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (n.neg)
			return cerr(c, f, "value out of range");
		*(uint64_t *)p = n.mag;
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)p = n.mag != 0;
		return 0;
	default:	/* uint32, fixed32 */
		if (n.neg || n.mag > UINT32_MAX)
			return cerr(c, f, "value out of range");
		*(uint32_t *)p = n.mag;
		return 0;
	}
}

static int build_msg(struct conv *c, const struct json *j, const ProtobufCMessageDescriptor *md,
		     ProtobufCMessage **out);

/* Fill the value at @p (one element) from @v. */
static int store_value(struct conv *c, const ProtobufCFieldDescriptor *f,
		       const struct pb_field_opts *o, const struct json *v, void *p)
{
	const ProtobufCEnumValue *ev;
	ProtobufCBinaryData *bd;
	struct num n;
	int ret;

	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		return build_msg(c, v, f->descriptor, (ProtobufCMessage **)p);
	case PROTOBUF_C_TYPE_STRING:
		if (v->type != JSON_STRING)
			return cerr(c, f, "expected a string");
		*(char **)p = strdup(v->str.s);
		return *(char **)p ? 0 : -ENOMEM;
	case PROTOBUF_C_TYPE_BYTES:
		if (v->type != JSON_STRING)
			return cerr(c, f, "expected a string");
		bd = p;
		if (o && o->conv && !strcmp(o->conv, "unix_name"))
			ret = qp_decode(v->str.s, v->str.len, &bd->data, &bd->len);
		else
			ret = b64_decode(v->str.s, v->str.len, &bd->data, &bd->len);
		return ret == -EINVAL ? cerr(c, f, "bad base64") : ret;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		double d;

		if (v->type == JSON_DOUBLE)
			d = v->d;
		else if (v->type == JSON_INT)
			d = v->i.neg ? -(double)v->i.mag : (double)v->i.mag;
		else
			return cerr(c, f, "expected a number");
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)p = d;
		else
			*(double *)p = d;
		return 0;
	}
	case PROTOBUF_C_TYPE_ENUM:
		if (v->type == JSON_STRING) {
			ev = protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, v->str.s);
			if (!ev)
				return cerr(c, f, "unknown enum name");
			*(int *)p = ev->value;
			return 0;
		}
		break;
	default:
		break;
	}
	ret = json_num(c, f, o, v, &n);
	return ret ? ret : store_num(c, f, n, p);
}

static int parse_ip(struct conv *c, const ProtobufCFieldDescriptor *f, const char *s,
		    uint32_t **out, size_t *n)
{
	uint32_t *w = calloc(4, sizeof(*w));

	if (!w)
		return -ENOMEM;
	if (inet_pton(AF_INET, s, w) == 1) {
		*n = 1;
	} else if (inet_pton(AF_INET6, s, w) == 1) {
		*n = 4;
	} else {
		free(w);
		return cerr(c, f, "bad IP address");
	}
	*out = w;
	return 0;
}

static int store_repeated(struct conv *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
			  const struct pb_field_opts *o, const struct json *v)
{
	size_t *np = (size_t *)((char *)m + f->quantifier_offset);
	void **arrp = (void **)field_at(m, f);
	size_t sz = type_size(f->type), i;
	int ret;

	if (v->type != JSON_ARRAY)
		return cerr(c, f, "expected a list");
	if (o && o->ipadd && v->arr.n && v->arr.v[0]->type == JSON_STRING)
		return parse_ip(c, f, v->arr.v[0]->str.s, (uint32_t **)arrp, np);
	if (!v->arr.n)
		return 0;
	*arrp = calloc(v->arr.n, sz);
	if (!*arrp)
		return -ENOMEM;
	for (i = 0; i < v->arr.n; i++) {
		ret = store_value(c, f, o, v->arr.v[i], (char *)*arrp + i * sz);
		/* count what was stored, so freeing the message frees it */
		if (ret) {
			*np = f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING ||
			      f->type == PROTOBUF_C_TYPE_BYTES ? i : 0;
			return ret;
		}
	}
	*np = v->arr.n;
	return 0;
}

static int store_unknown(struct conv *c, ProtobufCMessage *m, const struct json *v)
{
	size_t n, i;

	if (v->type != JSON_ARRAY)
		return cerr(c, NULL, "bad " PBJSON_UNKNOWN_KEY);
	n = v->arr.n;
	m->unknown_fields = calloc(n ? n : 1, sizeof(*m->unknown_fields));
	if (!m->unknown_fields)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
		const struct json *e = v->arr.v[i], *d = json_obj_get(e, "data");
		uint64_t tag, wt;

		if (!json_get_u64(json_obj_get(e, "tag"), &tag) || tag > UINT32_MAX ||
		    !json_get_u64(json_obj_get(e, "wire_type"), &wt) || wt > 5 ||
		    !d || d->type != JSON_STRING ||
		    b64_decode(d->str.s, d->str.len, &u->data, &u->len))
			return cerr(c, NULL, "bad " PBJSON_UNKNOWN_KEY " entry");
		u->tag = tag;
		u->wire_type = wt;
		m->n_unknown_fields++;
	}
	return 0;
}

static int set_field(struct conv *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
		     const struct json *v)
{
	const struct pb_field_opts *o = pb_field_opts(m->descriptor, f);
	void *p = field_at(m, f);
	int ret;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return store_repeated(c, m, f, o, v);
	/* A default string in place would be freed as if it were ours: clear it. */
	if (f->type == PROTOBUF_C_TYPE_STRING)
		*(char **)p = NULL;
	if (f->type == PROTOBUF_C_TYPE_BYTES)
		memset(p, 0, sizeof(ProtobufCBinaryData));
	ret = store_value(c, f, o, v, p);
	if (ret)
		return ret;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
		 f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING)
		*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
	return 0;
}

static int build_msg(struct conv *c, const struct json *j, const ProtobufCMessageDescriptor *md,
		     ProtobufCMessage **out)
{
	const char *outer = c->msg;
	ProtobufCMessage *m;
	const struct json *u;
	int ret = 0;

	if (j->type != JSON_OBJECT) {
		snprintf(c->err, c->errlen, "%s: expected an object", md->name);
		return -EINVAL;
	}
	m = calloc(1, md->sizeof_message);
	if (!m)
		return -ENOMEM;
	md->message_init(m);
	c->msg = md->name;
	for (unsigned i = 0; !ret && i < md->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &md->fields[i];
		const struct json *v = json_obj_get(j, f->name);

		if (v)
			ret = set_field(c, m, f, v);
		else if (f->label == PROTOBUF_C_LABEL_REQUIRED)
			ret = cerr(c, f, "required field missing");
	}
	u = json_obj_get(j, PBJSON_UNKNOWN_KEY);
	if (!ret && u)
		ret = store_unknown(c, m, u);
	if (!ret && !protobuf_c_message_check(m)) {
		snprintf(c->err, c->errlen, "%s: a required field is missing", md->name);
		ret = -EINVAL;
	}
	c->msg = outer;
	if (ret) {
		protobuf_c_message_free_unpacked(m, NULL);
		return ret;
	}
	*out = m;
	return 0;
}

int json_to_pb(const struct json *j, const ProtobufCMessageDescriptor *md,
	       ProtobufCMessage **msg, char *err, size_t errlen)
{
	struct conv c = { .err = err, .errlen = errlen, .msg = md->name };

	err[0] = '\0';
	return build_msg(&c, j, md, msg);
}
