/* cpu_peak.c: theoretical CPU peak = cores x GHz x FLOPs/cycle/core, from
 * /proc/cpuinfo flags and the cpufreq maximum.  See cpu_peak.h for the table
 * of FLOPs per cycle and the assumptions (two FMA units per core, nominal
 * maximum clock).  Not a measurement; nothing here prints.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "kernels/cpu/cpu_peak.h"

#include <ctype.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

#define CPUINFO_PATH "/proc/cpuinfo"
#define MAX_FREQ_PATH "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"
/* The first processor block is all we parse; 64 KiB holds it many times. */
#define CPUINFO_READ_BYTES (64 * 1024)
/* AMD family 19h: Zen 3 and Zen 4; only Zen 4 has AVX-512. */
#define AMD_FAMILY_ZEN4 0x19

static const struct {
	const char *flag;
	unsigned bit;
} isa_flags[] = {
	{ "sse2", STRATA_ISA_SSE2 },         { "avx", STRATA_ISA_AVX },
	{ "fma", STRATA_ISA_FMA },           { "avx2", STRATA_ISA_AVX2 },
	{ "avx512f", STRATA_ISA_AVX512F },   { "avx512_bf16", STRATA_ISA_AVX512_BF16 },
	{ "amx_bf16", STRATA_ISA_AMX_BF16 },
};

static void copy_trimmed(char *dst, size_t cap, const char *src, size_t len)
{
	while (len > 0 && isspace((unsigned char)*src)) {
		src++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)src[len - 1]))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Set the isa bits of every whole word of the flags value. */
static unsigned parse_flags(const char *v, size_t len)
{
	unsigned isa = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && isspace((unsigned char)v[i]))
			i++;
		size_t start = i;
		while (i < len && !isspace((unsigned char)v[i]))
			i++;
		size_t wl = i - start;
		for (size_t f = 0; f < sizeof(isa_flags) / sizeof(isa_flags[0]); f++)
			if (wl == strlen(isa_flags[f].flag) &&
			    strncmp(v + start, isa_flags[f].flag, wl) == 0)
				isa |= isa_flags[f].bit;
	}
	return isa;
}

int strata_cpu_peak_parse_cpuinfo(const char *text, struct strata_cpu_info *out)
{
	memset(out, 0, sizeof(*out));
	out->family = -1;
	int have_flags = 0, seen_any = 0;
	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *colon = memchr(line, ':', len);
		if (!colon) {
			/* A blank line ends the first processor block. */
			size_t j = 0;
			while (j < len && isspace((unsigned char)line[j]))
				j++;
			if (j == len && seen_any)
				break;
		} else {
			char key[32];
			copy_trimmed(key, sizeof(key), line, (size_t)(colon - line));
			const char *v = colon + 1;
			size_t vlen = len - (size_t)(v - line);
			char num[64];
			seen_any = 1;
			if (strcmp(key, "vendor_id") == 0) {
				copy_trimmed(out->vendor, sizeof(out->vendor), v, vlen);
			} else if (strcmp(key, "cpu family") == 0) {
				copy_trimmed(num, sizeof(num), v, vlen);
				out->family = atoi(num);
			} else if (strcmp(key, "model name") == 0) {
				copy_trimmed(out->model_name, sizeof(out->model_name), v, vlen);
			} else if (strcmp(key, "cpu MHz") == 0) {
				copy_trimmed(num, sizeof(num), v, vlen);
				out->cpu_mhz = strtod(num, NULL);
			} else if (strcmp(key, "flags") == 0) {
				out->isa = parse_flags(v, vlen);
				have_flags = 1;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return have_flags ? 0 : -1;
}

double strata_cpu_peak_model_ghz(const char *model_name)
{
	const char *at = strrchr(model_name, '@');
	if (!at)
		return 0;
	char *end;
	double v = strtod(at + 1, &end);
	if (end == at + 1 || v <= 0)
		return 0;
	while (isspace((unsigned char)*end))
		end++;
	if (strncmp(end, "GHz", 3) == 0)
		return v;
	if (strncmp(end, "MHz", 3) == 0)
		return v / 1e3;
	return 0;
}

int strata_cpu_peak_flops_per_cycle(const struct strata_cpu_info *ci, enum strata_cpu_prec prec,
				    const char **isa)
{
	const unsigned f = ci->isa;
	/* Zen 4: two 256-bit FMA pipes; a 512-bit FMA takes both for a cycle. */
	const int half_width_512 = strcmp(ci->vendor, "AuthenticAMD") == 0 &&
				   ci->family == AMD_FAMILY_ZEN4;
	int dp = 0;
	const char *name = "none";

	if (f & STRATA_ISA_AVX512F) {
		dp = half_width_512 ? 16 : 32;
		name = half_width_512 ? "avx512f (Zen 4: 512-bit as two 256-bit halves)" : "avx512f";
	} else if ((f & STRATA_ISA_AVX2) && (f & STRATA_ISA_FMA)) {
		dp = 16;
		name = "avx2+fma";
	} else if (f & STRATA_ISA_AVX) {
		dp = 8;
		name = "avx";
	} else if (f & STRATA_ISA_SSE2) {
		dp = 4;
		name = "sse2";
	}

	int flops = dp;
	switch (prec) {
	case STRATA_CPU_FP64:
		break;
	case STRATA_CPU_FP32:
		flops = 2 * dp;
		break;
	case STRATA_CPU_BF16:
		if (f & STRATA_ISA_AMX_BF16) {
			flops = 1024;
			name = "amx_bf16";
		} else if (f & STRATA_ISA_AVX512_BF16) {
			flops = half_width_512 ? 64 : 128;
			name = half_width_512 ? "avx512_bf16 (Zen 4: 512-bit as two 256-bit halves)"
					      : "avx512_bf16";
		} else {
			flops = 2 * dp; /* widened to fp32 */
		}
		break;
	}
	if (isa)
		*isa = name;
	return flops;
}

/* The per-core execution resources the FLOPs/cycle figure of isa assumes. */
static const char *assumption(const char *isa)
{
	if (strncmp(isa, "amx", 3) == 0)
		return "AMX tile unit: 1024 bf16 FLOP/cycle";
	if (strncmp(isa, "avx512", 6) == 0 || strncmp(isa, "avx2", 4) == 0)
		return "2 FMA units assumed";
	return "1 add + 1 multiply port assumed";
}

int strata_cpu_peak_derive(const char *cpuinfo_text, const char *max_freq_khz_text, int cores,
			   enum strata_cpu_prec prec, struct strata_cpu_peak *out)
{
	struct strata_cpu_info ci;
	memset(out, 0, sizeof(*out));
	out->cores = cores;
	out->isa = "none";
	if (strata_cpu_peak_parse_cpuinfo(cpuinfo_text ? cpuinfo_text : "", &ci) != 0) {
		snprintf(out->source, sizeof(out->source),
			 "unknown: no flags line in /proc/cpuinfo (not x86?); set peak_gflops");
		return -1;
	}
	out->flops_per_cycle = strata_cpu_peak_flops_per_cycle(&ci, prec, &out->isa);
	if (out->flops_per_cycle <= 0) {
		snprintf(out->source, sizeof(out->source),
			 "unknown: no SSE2/AVX/AVX2/AVX-512 flag in /proc/cpuinfo; set peak_gflops");
		return -1;
	}

	double khz = max_freq_khz_text ? strtod(max_freq_khz_text, NULL) : 0;
	double model_ghz = strata_cpu_peak_model_ghz(ci.model_name);
	if (khz > 0) {
		out->ghz = khz / 1e6;
		snprintf(out->freq_source, sizeof(out->freq_source), "cpufreq cpuinfo_max_freq");
	} else if (model_ghz > 0) {
		out->ghz = model_ghz;
		snprintf(out->freq_source, sizeof(out->freq_source), "model name '@ %.2fGHz'",
			 model_ghz);
	} else if (ci.cpu_mhz > 0) {
		out->ghz = ci.cpu_mhz / 1e3;
		snprintf(out->freq_source, sizeof(out->freq_source), "/proc/cpuinfo cpu MHz");
	} else {
		snprintf(out->source, sizeof(out->source),
			 "unknown: no cpufreq maximum, no '@ GHz' in the model name and no cpu MHz; "
			 "set peak_gflops");
		return -1;
	}
	out->gflops = (double)cores * out->ghz * (double)out->flops_per_cycle;
	snprintf(out->source, sizeof(out->source),
		 "derived: %d cores x %.3f GHz x %d FLOP/cycle (%s, %s; frequency: %s)", cores,
		 out->ghz, out->flops_per_cycle, out->isa, assumption(out->isa), out->freq_source);
	return 0;
}

/* Read up to cap-1 bytes of path into buf.  Returns bytes read or -1. */
static long read_text(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (long)n;
}

int strata_cpu_peak_host(int cores, enum strata_cpu_prec prec, struct strata_cpu_peak *out)
{
	char *cpuinfo = malloc(CPUINFO_READ_BYTES);
	if (!cpuinfo) {
		memset(out, 0, sizeof(*out));
		out->isa = "none";
		snprintf(out->source, sizeof(out->source), "unknown: out of memory");
		return -1;
	}
	if (read_text(CPUINFO_PATH, cpuinfo, CPUINFO_READ_BYTES) < 0)
		cpuinfo[0] = '\0';
	char khz[64];
	const int have_khz = read_text(MAX_FREQ_PATH, khz, sizeof(khz)) > 0;
	int rc = strata_cpu_peak_derive(cpuinfo, have_khz ? khz : NULL, cores, prec, out);
	free(cpuinfo);
	return rc;
}

static int affinity_cpus(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? n : 1;
}

int strata_cpu_peak_bound_cores(int *cpus)
{
	int logical = affinity_cpus(), cores = 0;
	hwloc_topology_t topo;
	if (hwloc_topology_init(&topo) != 0)
		goto fallback;
	if (hwloc_topology_load(topo) != 0)
		goto out_topo;
	hwloc_bitmap_t bound = hwloc_bitmap_alloc();
	if (!bound)
		goto out_topo;
	if (hwloc_get_cpubind(topo, bound, HWLOC_CPUBIND_PROCESS) != 0 ||
	    hwloc_bitmap_iszero(bound))
		hwloc_bitmap_copy(bound, hwloc_topology_get_topology_cpuset(topo));
	int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	for (int i = 0; i < ncores; i++) {
		hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
		if (core && core->cpuset && hwloc_bitmap_intersects(core->cpuset, bound))
			cores++;
	}
	int w = hwloc_bitmap_weight(bound);
	if (w > 0)
		logical = w;
	hwloc_bitmap_free(bound);
out_topo:
	hwloc_topology_destroy(topo);
fallback:
	if (cores <= 0)
		cores = logical;
	if (cpus)
		*cpus = logical;
	return cores;
}
