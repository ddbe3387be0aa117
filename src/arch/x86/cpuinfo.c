/*
 * cpuinfo.c - cpuinfo.img: this CPU as CPUID describes it, written at dump
 * in CRIU 4.2's layout and checked at restore as CRIU's --cpu-cap says.
 *
 * The capability words follow the kernel's X86_FEATURE_* numbering of
 * CRIU's "version 2" layout (19 words of 32 bits, word N bit B being
 * feature N * 32 + B); CRIU keeps that layout stable as image ABI.
 */
#include <cpuid.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/cpuinfo.h"
#include "cpuinfo.pb-c.h"
#include "image.h"
#include "log.h"
#include "opts.h"
#include "rst-ctx.h"

#define NCAPS		19	/* capability words of layout version 2 */
#define NCAPS_V1	12	/* and of version 1 */

#define FEAT(word, bit)	((word) * 32 + (bit))

/* The features this file tests by name. */
#define F_FPU		FEAT(0, 0)
#define F_FXSR		FEAT(0, 24)
#define F_XMM		FEAT(0, 25)
#define F_REP_GOOD	FEAT(3, 16)
#define F_NOPL		FEAT(3, 20)
#define F_CPUID		FEAT(3, 25)
#define F_XSAVE		FEAT(4, 26)
#define F_OSXSAVE	FEAT(4, 27)
#define F_AVX		FEAT(4, 28)
#define F_ERMS		FEAT(9, 9)
#define F_MPX		FEAT(9, 14)
#define F_AVX512F	FEAT(9, 16)
#define F_INTEL_PT	FEAT(9, 25)
#define F_XSAVES	FEAT(10, 3)
#define F_PKU		FEAT(11, 3)
#define F_HDC		FEAT(14, 13)
#define F_CQM_LLC	FEAT(16, 1)

/* The xsave components a Linux task's registers may hold. */
#define XFEATURES_USER	0x2ffull	/* x87 sse avx mpx(2) avx512(3) pkru */
/*
 * CRIU 4.2 also drops bits 1 (sse) and 3 (mpx bndregs) from what it
 * records, by a slip in its supervisor mask.  A CRIU that restores our
 * image with --cpu-cap compares the image's mask with its own, so ours
 * must drop them too or CRIU would see sse as missing.
 */
#define XFEATURES_CRIU_DROPS	0x10aull

struct cpu_desc {
	int vendor;			/* CPUINFO_X86_ENTRY__VENDOR__* */
	uint32_t family, model, stepping;
	uint32_t caps[NCAPS];
	char model_id[49];
	uint64_t xfeatures;		/* as CRIU records it */
	uint64_t xfeatures_cpu;		/* the same before CRIU's slip */
	uint32_t xsave_size, xsave_size_max;
};

static bool has(const uint32_t *caps, unsigned int f)
{
	return f < NCAPS * 32 && (caps[f / 32] >> (f % 32) & 1);
}

static void set_cap(uint32_t *caps, unsigned int f, bool on)
{
	if (on)
		caps[f / 32] |= 1u << (f % 32);
	else
		caps[f / 32] &= ~(1u << (f % 32));
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

static int probe_vendor(struct cpu_desc *c, uint32_t *level)
{
	uint32_t r[4];
	char id[13];

	cpuid(0, 0, r);
	*level = r[0];
	memcpy(id, &r[1], 4);
	memcpy(id + 4, &r[3], 4);
	memcpy(id + 8, &r[2], 4);
	id[12] = 0;
	if (!strcmp(id, "GenuineIntel")) {
		c->vendor = CPUINFO_X86_ENTRY__VENDOR__INTEL;
	} else if (!strcmp(id, "AuthenticAMD") || !strcmp(id, "HygonGenuine")) {
		c->vendor = CPUINFO_X86_ENTRY__VENDOR__AMD;
	} else {
		pr_err("unsupported CPU vendor '%s': cpuinfo.img knows Intel and AMD", id);
		return -ENOTSUP;
	}
	return 0;
}

static void probe_signature(struct cpu_desc *c, uint32_t level)
{
	uint32_t r[4];

	c->family = 4;	/* what a CPU without leaf 1 is taken for */
	if (level < 1)
		return;
	cpuid(1, 0, r);
	c->family = r[0] >> 8 & 0xf;
	c->model = r[0] >> 4 & 0xf;
	c->stepping = r[0] & 0xf;
	if (c->family == 0xf)
		c->family += r[0] >> 20 & 0xff;
	if (c->family >= 6)
		c->model += (r[0] >> 16 & 0xf) << 4;
	c->caps[0] = r[3];
	c->caps[4] = r[2];
}

/* Words 9..18 and 14, 16, 12: the standard leaves beyond 1. */
static void probe_std_leaves(struct cpu_desc *c, uint32_t level)
{
	uint32_t r[4];

	if (level >= 6) {
		cpuid(6, 0, r);
		c->caps[14] = r[0];
	}
	if (level >= 7) {
		cpuid(7, 0, r);
		c->caps[9] = r[1];
		c->caps[11] = r[2];
		c->caps[18] = r[3];
	}
	if (level >= 0xd) {
		cpuid(0xd, 1, r);
		c->caps[10] = r[0];
	}
	if (level >= 0xf) {
		cpuid(0xf, 0, r);
		c->caps[16] = r[3];
		if (has(c->caps, F_CQM_LLC)) {
			cpuid(0xf, 1, r);
			c->caps[12] = r[3];
		}
	}
}

/* The brand string, with the leading blanks Intel pads it with removed. */
static void probe_model_id(struct cpu_desc *c)
{
	uint32_t v[12];
	char *p;

	for (int i = 0; i < 3; i++)
		cpuid(0x80000002 + i, 0, &v[i * 4]);
	memcpy(c->model_id, v, 48);
	c->model_id[48] = 0;
	for (p = c->model_id; *p == ' '; p++)
		;
	memmove(c->model_id, p, strlen(p) + 1);
}

static void probe_ext_leaves(struct cpu_desc *c)
{
	uint32_t r[4], ext;

	cpuid(0x80000000, 0, r);
	ext = r[0];
	if ((ext & 0xffff0000) == 0x80000000 && ext >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		c->caps[6] = r[2];
		c->caps[1] = r[3];
	}
	if (ext >= 0x80000004)
		probe_model_id(c);
	if (ext >= 0x80000007) {
		cpuid(0x80000007, 0, r);
		c->caps[17] = r[1];
	}
	if (ext >= 0x8000000a) {
		cpuid(0x8000000a, 0, r);
		c->caps[15] = r[3];
	}
	if (ext >= 0x80000008) {
		cpuid(0x80000008, 0, r);
		c->caps[13] = r[1];
	}
}

/* The bits Linux sets or clears itself, which CRIU records the same way. */
static void probe_fixups(struct cpu_desc *c, uint32_t level)
{
	set_cap(c->caps, F_CPUID, true);
	set_cap(c->caps, F_NOPL, true);
	if (level < 0xd)
		set_cap(c->caps, F_XSAVE, false);
	if (c->vendor == CPUINFO_X86_ENTRY__VENDOR__INTEL) {
		if (c->family == 15) {
			set_cap(c->caps, F_REP_GOOD, false);
			set_cap(c->caps, F_ERMS, false);
		} else if (c->family == 6) {
			set_cap(c->caps, F_REP_GOOD, true);
		}
		return;
	}
	/* AMD: word 0 bit 31 is not PBE there. */
	set_cap(c->caps, FEAT(0, 31), false);
	if (c->family >= 0x10)
		set_cap(c->caps, F_REP_GOOD, true);
	if (c->family == 0xf) {
		uint32_t r[4];

		cpuid(1, 0, r);
		if ((r[0] >= 0x0f48 && r[0] < 0x0f50) || r[0] >= 0x0f58)
			set_cap(c->caps, F_REP_GOOD, true);
	}
}

/* The CPUID feature each of xsave components 0..10 depends on. */
static const uint16_t xfeature_needs[] = {
	F_FPU, F_XMM, F_AVX, F_MPX, F_MPX, F_AVX512F, F_AVX512F, F_AVX512F,
	F_INTEL_PT, F_PKU, F_HDC,
};

static int probe_xsave(struct cpu_desc *c)
{
	uint32_t r[4];
	uint64_t mask;

	if (!has(c->caps, F_FPU)) {
		pr_err("this CPU has no FPU");
		return -ENOTSUP;
	}
	if (!has(c->caps, F_XSAVE))
		return 0;	/* fxsave only: no mask, no sizes, as CRIU */
	cpuid(0xd, 0, r);
	mask = r[0] | (uint64_t)r[3] << 32;
	if ((mask & 3) != 3) {
		pr_err("CPUID leaf 0xd lists no x87/SSE state (%#" PRIx64 ")", mask);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(xfeature_needs) / sizeof(xfeature_needs[0]); i++)
		if (!has(c->caps, xfeature_needs[i]))
			mask &= ~(1ull << i);
	c->xfeatures_cpu = mask & XFEATURES_USER;
	c->xfeatures = c->xfeatures_cpu & ~XFEATURES_CRIU_DROPS;
	c->xsave_size = r[1];
	c->xsave_size_max = r[2];
	return 0;
}

static int cpu_probe(struct cpu_desc *c)
{
	uint32_t level;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = probe_vendor(c, &level);
	if (ret)
		return ret;
	probe_signature(c, level);
	probe_std_leaves(c, level);
	probe_ext_leaves(c);
	probe_fixups(c, level);
	ret = probe_xsave(c);
	pr_debug("cpu: family %u model %u stepping %u '%s' xfeatures %#" PRIx64
		 " xsave %u/%u", c->family, c->model, c->stepping, c->model_id, c->xfeatures,
		 c->xsave_size, c->xsave_size_max);
	return ret;
}

int cpuinfo_dump(int dirfd)
{
	CpuinfoX86Entry x, *xp = &x;
	CpuinfoEntry e;
	struct cpu_desc c;
	struct img *img;
	int ret;

	ret = cpu_probe(&c);
	if (ret)
		return ret;
	cpuinfo_x86_entry__init(&x);
	x.vendor_id = c.vendor;
	x.cpu_family = c.family;
	x.model = c.model;
	x.stepping = c.stepping;
	x.capability_ver = 2;
	x.n_capability = NCAPS;
	x.capability = c.caps;
	if (c.model_id[0])
		x.model_id = c.model_id;
	x.has_xfeatures_mask = x.has_xsave_size = x.has_xsave_size_max = 1;
	x.xfeatures_mask = c.xfeatures;
	x.xsave_size = c.xsave_size;
	x.xsave_size_max = c.xsave_size_max;
	cpuinfo_entry__init(&e);
	e.n_x86_entry = 1;
	e.x86_entry = &xp;
	ret = img_open(&img, dirfd, IMG_CPUINFO, 0, O_WRONLY);
	if (ret)
		return ret;
	ret = img_write_msg(img, &e.base);
	return img_close(img) ?: ret;
}

/* --- restore: the image's CPU against this one --- */

struct xfeature_name {
	const char *group, *name;
};

static const struct xfeature_name xfeature_names[] = {
	[0] = { "x87", NULL },
	[1] = { "sse", NULL },
	[2] = { "avx", NULL },
	[3] = { "mpx", "bndregs" },
	[4] = { "mpx", "bndcsr" },
	[5] = { "avx512", "opmask" },
	[6] = { "avx512", "zmm_hi256" },
	[7] = { "avx512", "hi16_zmm" },
	[8] = { "pt", NULL },
	[9] = { "pkru", NULL },
	[11] = { "cet", "user" },
	[12] = { "cet", "supervisor" },
	[17] = { "amx", "tilecfg" },
	[18] = { "amx", "tiledata" },
	[19] = { "apx", "egpr" },
};

#define NR_XNAMES (sizeof(xfeature_names) / sizeof(xfeature_names[0]))

/* printf at *@n in @buf, never past its end. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n >= len - 1)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (r > 0)
		*n = *n + r < len - 1 ? *n + r : len - 1;
}

/* "avx512 (opmask, hi16_zmm), pkru" for the bits of @mask. */
static void xfeatures_text(uint64_t mask, char *buf, size_t len)
{
	const char *open = NULL;	/* the group whose "(" is open */
	size_t n = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < 64; i++) {
		const struct xfeature_name *x = i < NR_XNAMES ? &xfeature_names[i] : NULL;

		if (!(mask >> i & 1))
			continue;
		if (x && !x->group)
			x = NULL;
		if (open && x && !strcmp(open, x->group)) {
			append(buf, len, &n, ", %s", x->name);
			continue;
		}
		if (open)
			append(buf, len, &n, ")");
		open = NULL;
		if (!x) {
			append(buf, len, &n, "%scomponent %u", n ? ", " : "", i);
			continue;
		}
		append(buf, len, &n, "%s%s", n ? ", " : "", x->group);
		if (x->name) {
			append(buf, len, &n, " (%s", x->name);
			open = x->group;
		}
	}
	if (open)
		append(buf, len, &n, ")");
}

static void report_xfeatures(uint64_t missing, const char *where)
{
	char text[512];

	xfeatures_text(missing, text, sizeof(text));
	pr_err("the image needs xsave features %s this CPU lacks (%s)", text, where);
}

/*
 * The image's CPU as a cpu_desc.  Words a version 1 image lacks and fields
 * an old image lacks are taken from this CPU, as CRIU does, so that they
 * compare equal.
 */
static int image_desc(const CpuinfoEntry *e, const struct cpu_desc *rt, struct cpu_desc *c)
{
	const CpuinfoX86Entry *x;
	size_t want;

	if (e->n_x86_entry != 1) {
		pr_err("cpuinfo.img: %zu x86 entries, 1 expected", e->n_x86_entry);
		return -EINVAL;
	}
	x = e->x86_entry[0];
	if (x->vendor_id != CPUINFO_X86_ENTRY__VENDOR__INTEL &&
	    x->vendor_id != CPUINFO_X86_ENTRY__VENDOR__AMD) {
		pr_err("cpuinfo.img: unknown CPU vendor %d", x->vendor_id);
		return -EINVAL;
	}
	if (x->capability_ver != 1 && x->capability_ver != 2) {
		pr_err("cpuinfo.img: unknown capability layout version %u", x->capability_ver);
		return -EINVAL;
	}
	want = x->capability_ver == 1 ? NCAPS_V1 : NCAPS;
	if (x->n_capability != want) {
		pr_err("cpuinfo.img: %zu capability words, %zu expected for version %u",
		       x->n_capability, want, x->capability_ver);
		return -EINVAL;
	}
	*c = *rt;
	c->vendor = x->vendor_id;
	c->family = x->cpu_family;
	c->model = x->model;
	c->stepping = x->stepping;
	memcpy(c->caps, x->capability, want * sizeof(c->caps[0]));
	if (x->has_xfeatures_mask)
		c->xfeatures = x->xfeatures_mask;
	if (x->has_xsave_size)
		c->xsave_size = x->xsave_size;
	if (x->has_xsave_size_max)
		c->xsave_size_max = x->xsave_size_max;
	snprintf(c->model_id, sizeof(c->model_id), "%s", x->model_id ? x->model_id : "");
	return 0;
}

struct feature_name {
	uint16_t f;
	const char *name;
};

/* What the fpu check asks of the FPU itself. */
static const struct feature_name fpu_features[] = {
	{ F_FPU, "fpu" }, { F_FXSR, "fxsr" }, { F_OSXSAVE, "osxsave" }, { F_XSAVES, "xsaves" },
};

/*
 * The instruction set extensions user code may pick at start-up, so that
 * the ins check refuses a CPU without one the image's CPU had: the same
 * set as CRIU 4.2's, so that both accept the same images.
 */
static const struct feature_name ins_features[] = {
	{ FEAT(0, 0), "fpu" }, { FEAT(0, 4), "tsc" }, { FEAT(0, 8), "cx8" },
	{ FEAT(0, 11), "sep" }, { FEAT(0, 15), "cmov" }, { FEAT(0, 19), "clflush" },
	{ FEAT(0, 23), "mmx" }, { FEAT(0, 24), "fxsr" }, { FEAT(0, 25), "sse" },
	{ FEAT(0, 26), "sse2" },
	{ FEAT(1, 11), "syscall" }, { FEAT(1, 22), "mmxext" }, { FEAT(1, 27), "rdtscp" },
	{ FEAT(1, 30), "3dnowext" }, { FEAT(1, 31), "3dnow" },
	{ FEAT(3, 16), "rep_good" }, { FEAT(3, 20), "nopl" },
	{ FEAT(4, 0), "sse3" }, { FEAT(4, 1), "pclmulqdq" }, { FEAT(4, 3), "monitor" },
	{ FEAT(4, 9), "ssse3" }, { FEAT(4, 13), "cx16" }, { FEAT(4, 19), "sse4_1" },
	{ FEAT(4, 20), "sse4_2" }, { FEAT(4, 22), "movbe" }, { FEAT(4, 23), "popcnt" },
	{ FEAT(4, 25), "aes" }, { FEAT(4, 26), "xsave" }, { FEAT(4, 27), "osxsave" },
	{ FEAT(4, 28), "avx" }, { FEAT(4, 29), "f16c" }, { FEAT(4, 30), "rdrand" },
	{ FEAT(6, 5), "abm" }, { FEAT(6, 6), "sse4a" }, { FEAT(6, 7), "misalignsse" },
	{ FEAT(6, 8), "3dnowprefetch" }, { FEAT(6, 11), "xop" }, { FEAT(6, 16), "fma4" },
	{ FEAT(6, 21), "tbm" },
	{ FEAT(9, 0), "fsgsbase" }, { FEAT(9, 3), "bmi1" }, { FEAT(9, 4), "hle" },
	{ FEAT(9, 5), "avx2" }, { FEAT(9, 8), "bmi2" }, { FEAT(9, 9), "erms" },
	{ FEAT(9, 11), "rtm" }, { FEAT(9, 14), "mpx" }, { FEAT(9, 16), "avx512f" },
	{ FEAT(9, 17), "avx512dq" }, { FEAT(9, 18), "rdseed" }, { FEAT(9, 19), "adx" },
	{ FEAT(9, 23), "clflushopt" }, { FEAT(9, 26), "avx512pf" }, { FEAT(9, 27), "avx512er" },
	{ FEAT(9, 28), "avx512cd" }, { FEAT(9, 29), "sha_ni" }, { FEAT(9, 30), "avx512bw" },
	{ FEAT(9, 31), "avx512vl" },
	{ FEAT(10, 0), "xsaveopt" }, { FEAT(10, 1), "xsavec" }, { FEAT(10, 2), "xgetbv1" },
	{ FEAT(11, 1), "avx512vbmi" }, { FEAT(11, 6), "avx512_vbmi2" }, { FEAT(11, 8), "gfni" },
	{ FEAT(11, 9), "vaes" }, { FEAT(11, 10), "vpclmulqdq" }, { FEAT(11, 11), "avx512_vnni" },
	{ FEAT(11, 12), "avx512_bitalg" }, { FEAT(11, 13), "tme" },
	{ FEAT(11, 14), "avx512_vpopcntdq" }, { FEAT(11, 22), "rdpid" },
	{ FEAT(13, 0), "clzero" },
	{ FEAT(18, 2), "avx512_4vnniw" }, { FEAT(18, 3), "avx512_4fmaps" },
};

#define NR_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Refuse when the image's CPU had one of @list that this one has not. */
static int check_features(const struct cpu_desc *img, const struct cpu_desc *rt,
			  const struct feature_name *list, size_t nr, const char *what)
{
	char text[512];
	size_t n = 0;

	text[0] = 0;
	for (size_t i = 0; i < nr; i++)
		if (has(img->caps, list[i].f) && !has(rt->caps, list[i].f))
			append(text, sizeof(text), &n, "%s%s", n ? ", " : "", list[i].name);
	if (!n)
		return 0;
	pr_err("the image needs %s this CPU lacks: %s", what, text);
	return -ENOTSUP;
}

static int check_fpu(const struct cpu_desc *img, const struct cpu_desc *rt)
{
	char where[96];
	uint64_t missing;
	int ret;

	ret = check_features(img, rt, fpu_features, NR_OF(fpu_features), "FPU features");
	if (ret)
		return ret;
	/* Compared with what this CPU has, before CRIU's slip drops sse. */
	missing = img->xfeatures & ~rt->xfeatures_cpu;
	if (missing) {
		snprintf(where, sizeof(where), "cpuinfo.img says %#" PRIx64 ", this CPU has %#" PRIx64,
			 img->xfeatures, rt->xfeatures_cpu);
		report_xfeatures(missing, where);
		return -ENOTSUP;
	}
	/*
	 * Equal sizes, not just enough room: libc sizes the buffers it
	 * saves the xsave state into once, at start-up, from CPUID.
	 */
	if (img->xsave_size != rt->xsave_size || img->xsave_size_max != rt->xsave_size_max) {
		pr_err("the image's CPU has an xsave area of %u bytes (%u at most), this one %u (%u)",
		       img->xsave_size, img->xsave_size_max, rt->xsave_size, rt->xsave_size_max);
		return -ENOTSUP;
	}
	return 0;
}

static int check_strict(const struct cpu_desc *img, const struct cpu_desc *rt)
{
	for (int i = 0; i < NCAPS; i++) {
		if (img->caps[i] != rt->caps[i]) {
			pr_err("the image's CPU capabilities differ from this CPU's: word %d is %#x there, %#x here",
			       i, img->caps[i], rt->caps[i]);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int check_desc(const struct cpu_desc *img, const struct cpu_desc *rt, unsigned int caps)
{
	int ret = 0;

	pr_info("cpu: the image's CPU: family %u model %u stepping %u '%s'", img->family,
		img->model, img->stepping, img->model_id);
	if (caps & CPU_CAP_FPU)
		ret = check_fpu(img, rt);
	if (!ret && (caps & CPU_CAP_INS))
		ret = check_features(img, rt, ins_features, NR_OF(ins_features),
				     "instruction set extensions");
	if (!ret && (caps & CPU_CAP_CPU))
		ret = check_strict(img, rt);
	return ret;
}

int cpuinfo_check(int dirfd, unsigned int caps, bool required)
{
	struct cpu_desc rt, img;
	CpuinfoEntry *e;
	int ret;

	ret = img_read_one(dirfd, IMG_CPUINFO, 0, &cpuinfo_entry__descriptor,
			   (ProtobufCMessage **)&e);
	if (ret == -ENOENT && !required) {
		pr_info("cpu: no cpuinfo.img, the CPU is not checked (as CRIU)");
		return 0;
	}
	if (ret == -ENOENT)
		pr_err("no cpuinfo.img to check the CPU against (--cpu-cap needs one)");
	if (ret)
		return ret;
	ret = cpu_probe(&rt);
	if (!ret)
		ret = image_desc(e, &rt, &img);
	if (!ret)
		ret = check_desc(&img, &rt, caps);
	img_free_msg(&e->base);
	return ret;
}

/* The user xsave features this kernel has enabled on this CPU (XCR0). */
static uint64_t xcr0(void)
{
	uint32_t r[4], lo, hi;

	cpuid(1, 0, r);
	if (!(r[2] & bit_OSXSAVE))
		return 3;	/* fxsave: x87 and SSE */
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/*
 * The xsave state the image's registers hold must be state this kernel
 * has enabled: rt_sigreturn cannot load any other, and the task would die.
 */
static int check_registers(struct rst_ctx *ctx)
{
	uint64_t enabled = xcr0();

	for (size_t i = 0; i < ctx->nr_tasks; i++) {
		struct rst_task *t = &ctx->tasks[i];

		for (size_t j = 0; !t->zombie && j < t->nr_threads; j++) {
			const ThreadInfoX86 *ti = t->cores[j] ? t->cores[j]->thread_info : NULL;
			uint64_t used;
			char where[96];

			if (!ti || !ti->fpregs || !ti->fpregs->xsave)
				continue;
			used = ti->fpregs->xsave->xstate_bv;
			if (!(used & ~enabled))
				continue;
			snprintf(where, sizeof(where), "thread %d's registers hold %#" PRIx64
				 ", XCR0 here is %#" PRIx64, t->tids[j], used, enabled);
			report_xfeatures(used & ~enabled, where);
			return -ENOTSUP;
		}
	}
	return 0;
}

int cpuinfo_restore_check(struct rst_ctx *ctx)
{
	unsigned int caps = ctx->opts->cpu_cap;
	int ret = 0;

	if (caps != CPU_CAP_NONE) {
		ret = cpuinfo_check(ctx->dirfd, caps, caps & CPU_CAP_IMAGE);
		if (ret == -ENOTSUP)
			pr_err("this CPU cannot run the image (--cpu-cap=none restores it anyway)");
	}
	return ret ?: check_registers(ctx);
}

/* --- the command line --- */

static int cap_word(const char **arg, unsigned int *caps, bool inverse)
{
	static const struct {
		const char *word;
		unsigned int bits;
	} words[] = {
		{ "fpu", CPU_CAP_FPU }, { "all", CPU_CAP_ALL }, { "none", 0 },
		{ "cpu", CPU_CAP_CPU }, { "ins", CPU_CAP_INS },
	};

	for (size_t i = 0; i < NR_OF(words); i++) {
		size_t len = strlen(words[i].word);

		if (strncmp(*arg, words[i].word, len))
			continue;
		*arg += len;
		if (!words[i].bits)	/* "none", and "^none" meaning all */
			*caps = inverse ? CPU_CAP_ALL : CPU_CAP_NONE;
		else if (inverse)
			*caps &= ~words[i].bits;
		else
			*caps |= words[i].bits;
		return 0;
	}
	return -EINVAL;
}

int cpu_cap_parse(const char *arg, unsigned int *caps)
{
	const char *p = arg;
	bool inverse = false;

	if (!arg) {
		*caps |= CPU_CAP_ALL | CPU_CAP_IMAGE;
		return 0;
	}
	while (*p) {
		if (*p == '^' || *p == ',') {
			/* '^' negates the next word, ',' starts a new one */
			inverse = *p == '^' ? !inverse : false;
			p++;
			continue;
		}
		if (cap_word(&p, caps, inverse)) {
			pr_err("--cpu-cap: unknown capability at '%s' (fpu, cpu, ins, all, none)", p);
			return -EINVAL;
		}
	}
	if (*caps != CPU_CAP_NONE)
		*caps |= CPU_CAP_IMAGE;
	return 0;
}

int cr_cpuinfo(const struct opts *o)
{
	unsigned int caps = o->cpu_cap;
	int dirfd, ret;

	if (!o->subaction || (strcmp(o->subaction, "dump") && strcmp(o->subaction, "check"))) {
		pr_err("cpuinfo needs an action: dump or check");
		return -EINVAL;
	}
	dirfd = open(o->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		pr_perror("cannot open images directory %s", o->images_dir);
		return -errno;
	}
	if (!strcmp(o->subaction, "dump")) {
		ret = cpuinfo_dump(dirfd);
	} else {
		/* Nothing asked: check everything, as CRIU's cpuinfo check. */
		if ((caps & ~CPU_CAP_IMAGE) == CPU_CAP_NONE)
			caps = CPU_CAP_ALL;
		ret = cpuinfo_check(dirfd, caps, true);
		if (!ret)
			pr_info("cpuinfo.img: this CPU can run the image");
	}
	close(dirfd);
	return ret;
}
