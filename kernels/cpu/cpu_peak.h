/* cpu_peak.h: the theoretical floating-point peak of the CPU cores a rank runs
 * on, from what /proc/cpuinfo and cpufreq say about them.
 *
 * What it is: peak = cores x frequency x FLOPs per cycle per core, the usual
 * "Rpeak" arithmetic (as in the TOP500's Rpeak and vendors' spec sheets), with
 * FLOPs per cycle read off the widest vector extension in /proc/cpuinfo's
 * flags.  It ASSUMES two FMA units per core wherever FMA exists (true of
 * Haswell and later Intel cores, Xeon Gold/Platinum, AMD Zen 2/3/5); cores with
 * one AVX-512 FMA unit (some Xeon Silver/Bronze, Ice Lake client) have half of
 * what is computed here, and the frequency is the nominal maximum, not the
 * lower clock a core sustains under heavy vector load.  A plan's peak_gflops
 * overrides all of it.
 * What it is not: a measurement, or a model of turbo bins and AVX frequency
 * offsets; nothing here times or prints.  The parsers take file text as input
 * so tests can feed them fixed /proc/cpuinfo contents.
 */
#ifndef STRATA_KERNELS_CPU_CPU_PEAK_H
#define STRATA_KERNELS_CPU_CPU_PEAK_H

#include <stddef.h>

/* The arithmetic whose peak is wanted. */
enum strata_cpu_prec {
	STRATA_CPU_FP64 = 0,
	STRATA_CPU_FP32,
	STRATA_CPU_BF16, /* bf16 inputs, fp32 accumulation (as cblas_sbgemm) */
};

/* x86 vector extensions that decide FLOPs per cycle (bits of .isa). */
enum strata_cpu_isa {
	STRATA_ISA_SSE2 = 1u << 0,
	STRATA_ISA_AVX = 1u << 1,
	STRATA_ISA_FMA = 1u << 2,
	STRATA_ISA_AVX2 = 1u << 3,
	STRATA_ISA_AVX512F = 1u << 4,
	STRATA_ISA_AVX512_BF16 = 1u << 5,
	STRATA_ISA_AMX_BF16 = 1u << 6,
};

/* What the first processor block of /proc/cpuinfo says. */
struct strata_cpu_info {
	char vendor[32];       /* vendor_id: "GenuineIntel", "AuthenticAMD" */
	int family;            /* cpu family (decimal), -1 if absent */
	char model_name[128];  /* model name */
	double cpu_mhz;        /* cpu MHz (current clock of that CPU), 0 if absent */
	unsigned isa;          /* enum strata_cpu_isa bits found in flags */
};

/* A derived (or planned) peak and how it was obtained. */
struct strata_cpu_peak {
	double gflops;         /* cores x ghz x flops_per_cycle; 0 when unknown */
	int cores;             /* cores counted */
	double ghz;            /* frequency used */
	int flops_per_cycle;   /* per core, for the precision asked */
	const char *isa;       /* static text: "avx512f", "avx2+fma", ... */
	char freq_source[96];  /* where ghz came from */
	char source[320];      /* one line for the record: "derived: 2 cores x ..." */
};

/* Parse /proc/cpuinfo text (its first processor block).  Returns 0, or -1
 * when the text has no "flags" line (non-x86, or not cpuinfo at all); *out
 * is filled with what was found either way. */
int strata_cpu_peak_parse_cpuinfo(const char *text, struct strata_cpu_info *out);

/* The frequency in a model name such as "Intel(R) Xeon(R) Gold 6248 CPU @
 * 2.50GHz": 2.5.  0 when the name carries none ("AMD EPYC 7763 64-Core"). */
double strata_cpu_peak_model_ghz(const char *model_name);

/* FLOPs per cycle per core for precision prec, and the extension that gives
 * it (*isa, static text).  Per core, two FMA units assumed:
 *   AVX-512F       : 2 x  8 doubles x 2 (FMA) = 32 fp64, 64 fp32
 *   AVX2 + FMA     : 2 x  4 doubles x 2       = 16 fp64, 32 fp32
 *   AVX (no FMA)   : 1 add + 1 mul x 4 doubles =  8 fp64, 16 fp32
 *   SSE2           : 1 add + 1 mul x 2 doubles =  4 fp64,  8 fp32
 *   bf16, AMX-BF16 : 1024 (Intel: AMX TMUL, 1024 bf16 FLOP/cycle/core)
 *   bf16, AVX512_BF16 : 2 x 16 fp32 lanes x 2 bf16 pairs x 2 = 128
 *   bf16 otherwise : the fp32 figure (bf16 widened to fp32)
 * AMD family 19h (Zen 4) runs 512-bit operations as two 256-bit halves on
 * its two FMA pipes, so AVX-512 there counts as the AVX2 figure (and 64
 * for AVX512_BF16).  Returns 0 (and *isa "none") without x86 vector flags. */
int strata_cpu_peak_flops_per_cycle(const struct strata_cpu_info *ci, enum strata_cpu_prec prec,
				    const char **isa);

/* Derive the peak of `cores` cores from file texts: cpuinfo_text is
 * /proc/cpuinfo, max_freq_khz_text the contents of
 * /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq or NULL.  Frequency:
 * cpuinfo_max_freq if given, else the "@ x.xxGHz" of the model name, else
 * "cpu MHz".  Returns 0, or -1 (out->gflops 0, out->source says why) when the
 * FLOPs per cycle or the frequency cannot be found. */
int strata_cpu_peak_derive(const char *cpuinfo_text, const char *max_freq_khz_text, int cores,
			   enum strata_cpu_prec prec, struct strata_cpu_peak *out);

/* strata_cpu_peak_derive() on this host's /proc/cpuinfo and cpu0's cpufreq. */
int strata_cpu_peak_host(int cores, enum strata_cpu_prec prec, struct strata_cpu_peak *out);

/* Cores this process is bound to: physical cores (hwloc) whose CPUs
 * intersect the process's CPU binding, so two SMT siblings count once.
 * *cpus (if not NULL) gets the logical CPUs of the binding.  Falls back to
 * the sched_getaffinity CPU count for both when hwloc fails; >= 1. */
int strata_cpu_peak_bound_cores(int *cpus);

#endif
