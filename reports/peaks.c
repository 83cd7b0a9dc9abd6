/* peaks.c: hardware peaks from datasheets, the manifest and a peaks file
 * (see peaks.h).  The datasheet rows are the vendors' published figures;
 * dense (not "with sparsity") tensor rates. */
#include "reports/peaks.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/run.h"
#include "reports/ydoc.h"

/* The gemm suite's dtype names (its `dtype` parameter), so a record's
 * gpu_tflops.<dtype> and a peaks file's keys are spelt alike. */
static const char *const DTYPES[] = {"float64",  "float32",  "tfloat32",
                                     "float16",  "bfloat16", "float8_e4m3"};
#define N_DTYPES (sizeof(DTYPES) / sizeof(DTYPES[0]))

static const char *const PLAIN_KEYS[] = {
    "memory_bandwidth",     "network_bandwidth", "intranode_bandwidth", "storage_bandwidth",
    "gpu_memory_bandwidth", "nvlink_bandwidth",  "pcie_bandwidth"};

int strata_peaks_key_known(const char *key)
{
	for (size_t i = 0; i < sizeof(PLAIN_KEYS) / sizeof(PLAIN_KEYS[0]); i++)
		if (!strcmp(key, PLAIN_KEYS[i]))
			return 1;
	const char *dot = strchr(key, '.');
	if (!dot)
		return 0;
	size_t n = (size_t)(dot - key);
	if (!(n == strlen("cpu_gflops_per_core") && !strncmp(key, "cpu_gflops_per_core", n)) &&
	    !(n == strlen("gpu_tflops") && !strncmp(key, "gpu_tflops", n)))
		return 0;
	for (size_t i = 0; i < N_DTYPES; i++)
		if (!strcmp(dot + 1, DTYPES[i]))
			return 1;
	return 0;
}

void strata_peaks_set(struct strata_peaks *peaks, const char *key, double value, const char *source)
{
	struct strata_peak *p = NULL;
	for (size_t i = 0; i < peaks->n; i++)
		if (!strcmp(peaks->p[i].key, key))
			p = &peaks->p[i];
	if (!p) {
		struct strata_peak *np = realloc(peaks->p, (peaks->n + 1) * sizeof(*np));
		if (!np)
			return;
		peaks->p = np;
		p = &peaks->p[peaks->n++];
	}
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->value = value;
	snprintf(p->source, sizeof(p->source), "%s", source);
}

const struct strata_peak *strata_peaks_get(const struct strata_peaks *peaks, const char *key)
{
	for (size_t i = 0; i < peaks->n; i++)
		if (!strcmp(peaks->p[i].key, key))
			return &peaks->p[i];
	return NULL;
}

void strata_peaks_release(struct strata_peaks *peaks)
{
	free(peaks->p);
	peaks->p = NULL;
	peaks->n = 0;
}

/* ---- CPU memory bandwidth per socket: channels x MT/s x 8 bytes ---------- */

struct cpu_row {
	const char *vendor; /* "EPYC" or "Xeon" */
	char family;        /* first digit of the model number ('7', '9'; '8'/'6' Xeon) */
	char gen;           /* the generation digit */
	int channels, mts;
	const char *source;
};

/* EPYC: model DxxG, G = generation; Xeon Scalable Platinum 8GXX / Gold
 * 6GXX, G = generation. */
static const struct cpu_row CPU_ROWS[] = {
    {"EPYC", '7', '1', 8, 2666, "AMD EPYC 7001 (Naples) datasheet: 8 channels DDR4-2666"},
    {"EPYC", '7', '2', 8, 3200, "AMD EPYC 7002 (Rome) datasheet: 8 channels DDR4-3200"},
    {"EPYC", '7', '3', 8, 3200, "AMD EPYC 7003 (Milan) datasheet: 8 channels DDR4-3200"},
    {"EPYC", '9', '4', 12, 4800, "AMD EPYC 9004 (Genoa) datasheet: 12 channels DDR5-4800"},
    {"EPYC", '9', '5', 12, 6000, "AMD EPYC 9005 (Turin) datasheet: 12 channels DDR5-6000"},
    {"Xeon", '8', '1', 6, 2666, "Intel Xeon Scalable 1st gen (Skylake-SP): 6 channels DDR4-2666"},
    {"Xeon", '8', '2', 6, 2933, "Intel Xeon Scalable 2nd gen (Cascade Lake): 6 channels DDR4-2933"},
    {"Xeon", '8', '3', 8, 3200, "Intel Xeon Scalable 3rd gen (Ice Lake-SP): 8 channels DDR4-3200"},
    {"Xeon", '8', '4', 8, 4800,
     "Intel Xeon Scalable 4th gen (Sapphire Rapids): 8 channels DDR5-4800"},
    {"Xeon", '8', '5', 8, 5600,
     "Intel Xeon Scalable 5th gen (Emerald Rapids): 8 channels DDR5-5600"},
};

/* The 4-digit model number after word in model ("EPYC 7763", "Platinum 8480+"). */
static const char *model_number(const char *model, const char *word)
{
	const char *p = strstr(model, word);
	if (!p)
		return NULL;
	p += strlen(word);
	while (*p == ' ')
		p++;
	for (int i = 0; i < 4; i++)
		if (!isdigit((unsigned char)p[i]))
			return NULL;
	return p;
}

static const struct cpu_row *cpu_lookup(const char *model)
{
	const char *num;
	if ((num = model_number(model, "EPYC"))) {
		for (size_t i = 0; i < sizeof(CPU_ROWS) / sizeof(CPU_ROWS[0]); i++)
			if (!strcmp(CPU_ROWS[i].vendor, "EPYC") && CPU_ROWS[i].family == num[0] &&
			    CPU_ROWS[i].gen == num[3])
				return &CPU_ROWS[i];
		return NULL;
	}
	if ((num = model_number(model, "Platinum")) || (num = model_number(model, "Gold"))) {
		if (num[0] != '8' && num[0] != '6')
			return NULL; /* Gold 5xxx / Silver run slower memory */
		for (size_t i = 0; i < sizeof(CPU_ROWS) / sizeof(CPU_ROWS[0]); i++)
			if (!strcmp(CPU_ROWS[i].vendor, "Xeon") && CPU_ROWS[i].gen == num[1])
				return &CPU_ROWS[i];
	}
	return NULL;
}

/* ---- GPUs ----------------------------------------------------------------- */

struct gpu_row {
	const char *name;
	double tflops[N_DTYPES]; /* float64 (tensor), float32, tf32, float16, bfloat16, fp8 */
	double hbm_gbps, nvlink_gbps_dir, pcie_gbps_dir;
	const char *source;
};

static const struct gpu_row GPU_ROWS[] = {
    {"H200",
     {67, 67, 494.5, 989.5, 989.5, 1979},
     4800,
     450,
     64,
     "NVIDIA H200 Tensor Core GPU datasheet (SXM; dense = half the sparse figures; NVLink 900 GB/s "
     "and PCIe Gen5 128 GB/s both directions)"},
    {"H100 PCIe",
     {51, 51, 378, 756, 756, 1513},
     2000,
     300,
     64,
     "NVIDIA H100 Tensor Core GPU datasheet, H100 PCIe column (dense; NVLink 600 GB/s and PCIe "
     "Gen5 128 GB/s both directions)"},
    {"H100",
     {67, 67, 494.5, 989.5, 989.5, 1979},
     3350,
     450,
     64,
     "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column (dense; NVLink 900 GB/s and PCIe Gen5 "
     "128 GB/s both directions)"},
    {"A100 80GB PCIe",
     {19.5, 19.5, 156, 312, 312, 0},
     1935,
     300,
     32,
     "NVIDIA A100 Tensor Core GPU datasheet, A100 80GB PCIe column (dense)"},
    {"A100-SXM4-40GB",
     {19.5, 19.5, 156, 312, 312, 0},
     1555,
     300,
     32,
     "NVIDIA A100 Tensor Core GPU datasheet, A100 40GB SXM column (dense)"},
    {"A100",
     {19.5, 19.5, 156, 312, 312, 0},
     2039,
     300,
     32,
     "NVIDIA A100 Tensor Core GPU datasheet, A100 80GB SXM column (dense; NVLink 600 GB/s and "
     "PCIe Gen4 64 GB/s both directions)"},
    {"L40S",
     {0, 91.6, 183, 362, 362, 733},
     864,
     0,
     32,
     "NVIDIA L40S datasheet (dense; PCIe Gen4 x16)"},
};

/* Every word of row name (split at ' ') appears in the GPU's name. */
static int gpu_matches(const char *gpu, const char *row)
{
	char words[64];
	snprintf(words, sizeof(words), "%s", row);
	for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (!strstr(gpu, w))
			return 0;
	return 1;
}

static const struct gpu_row *gpu_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(GPU_ROWS) / sizeof(GPU_ROWS[0]); i++)
		if (gpu_matches(name, GPU_ROWS[i].name))
			return &GPU_ROWS[i];
	return NULL;
}

/* PCIe per lane and direction, GB/s: transfer rate x encoding / 8 (PCI-SIG
 * base specifications: 8b/10b for gen 1-2, 128b/130b for 3-5, FLIT 242/256
 * for 6). */
static double pcie_lane_gbps(int gen)
{
	static const double lane[] = {0,
	                              0.25,
	                              0.5,
	                              8 * 128.0 / 130 / 8,
	                              16 * 128.0 / 130 / 8,
	                              32 * 128.0 / 130 / 8,
	                              64 * 242.0 / 256 / 8};
	return gen >= 1 && gen <= 6 ? lane[gen] : 0;
}

void strata_peaks_from_manifest(const json_t *manifest, struct strata_peaks *out)
{
	memset(out, 0, sizeof(*out));
	const json_t *sys = json_array_get(json_object_get(manifest, "systems"), 0);
	if (!sys)
		return;
	char src[320];
	const char *model = json_string_value(json_object_get(sys, "cpu_model"));
	const struct cpu_row *cpu = model ? cpu_lookup(model) : NULL;
	double sockets = strata_json_num(sys, "sockets");
	if (cpu && sockets >= 1) {
		double per_socket = cpu->channels * (double)cpu->mts * 8 / 1e3; /* GB/s */
		snprintf(src, sizeof(src),
		         "%s: %d x %d MT/s x 8 B = %.1f GB/s per socket, x %g socket(s)",
		         cpu->source, cpu->channels, cpu->mts, per_socket, sockets);
		strata_peaks_set(out, "memory_bandwidth", per_socket * sockets, src);
	}

	/* NICs: systems[0].nics[] with rate_gbps (Gb/s) or speed_mbps (sysfs). */
	double gbit = 0;
	size_t n_nics = 0, i;
	json_t *nic;
	json_array_foreach(strata_system_nics(sys), i, nic) {
		double r = strata_json_num(nic, "rate_gbps");
		if (!(r > 0))
			r = strata_json_num(nic, "speed_mbps") / 1e3;
		if (r > 0) {
			gbit += r;
			n_nics++;
		}
	}
	if (n_nics) {
		snprintf(src, sizeof(src),
		         "manifest: %zu NIC(s), link rates summing to %g Gb/s, / 8", n_nics, gbit);
		strata_peaks_set(out, "network_bandwidth", gbit / 8, src);
	}

	const json_t *gpu = json_array_get(strata_system_gpus(sys), 0);
	char gname[256] = "";
	if (gpu)
		strata_device_name(gpu, gname, sizeof(gname));
	const struct gpu_row *g = gname[0] ? gpu_lookup(gname) : NULL;
	if (g) {
		for (size_t d = 0; d < N_DTYPES; d++) {
			char key[64];
			snprintf(key, sizeof(key), "gpu_tflops.%s", DTYPES[d]);
			if (g->tflops[d] > 0)
				strata_peaks_set(out, key, g->tflops[d], g->source);
		}
		strata_peaks_set(out, "gpu_memory_bandwidth", g->hbm_gbps, g->source);
		if (g->nvlink_gbps_dir > 0)
			strata_peaks_set(out, "nvlink_bandwidth", g->nvlink_gbps_dir, g->source);
		strata_peaks_set(out, "pcie_bandwidth", g->pcie_gbps_dir, g->source);
	}
	if (gpu) {
		double gen = strata_json_num(gpu, "pcie_gen"),
		       width = strata_json_num(gpu, "pcie_width");
		if (gen >= 1 && width >= 1 && pcie_lane_gbps((int)gen) > 0) {
			snprintf(
			    src, sizeof(src),
			    "manifest: PCIe gen %g x%g, %.3f GB/s per lane and direction (PCI-SIG)",
			    gen, width, pcie_lane_gbps((int)gen));
			strata_peaks_set(out, "pcie_bandwidth", pcie_lane_gbps((int)gen) * width,
			                 src);
		}
		double links = strata_json_num(gpu, "nvlink_links");
		if (links >= 1) {
			snprintf(src, sizeof(src),
			         "manifest: %g NVLink link(s) x 25 GB/s per direction (NVLink 3/4: "
			         "50 GB/s "
			         "per link both ways)",
			         links);
			strata_peaks_set(out, "nvlink_bandwidth", links * 25, src);
		}
	}
	/* The peaks the run derived for its GPU (kernels/gpu/gpu_manifest.c: its
	 * table of known GPUs, NVML's PCIe and NVLink links) win: they are of the
	 * GPU the cases used. */
	const json_t *dp = json_object_get(gpu, "derived_peaks");
	if (dp) {
		static const char *const dense[N_DTYPES] = {"fp64", "fp32", "tf32",
		                                            "fp16", "bf16", "fp8"};
		const json_t *tf = json_object_get(dp, "dense_tflops");
		snprintf(src, sizeof(src), "manifest: %s (%s)", strata_json_str(dp, "model"),
		         strata_json_str(dp, "table_source"));
		for (size_t d = 0; d < N_DTYPES; d++) {
			char key[64];
			snprintf(key, sizeof(key), "gpu_tflops.%s", DTYPES[d]);
			if (strata_json_num(tf, dense[d]) > 0)
				strata_peaks_set(out, key, strata_json_num(tf, dense[d]), src);
		}
		if (strata_json_num(dp, "hbm_gbps") > 0)
			strata_peaks_set(out, "gpu_memory_bandwidth", strata_json_num(dp, "hbm_gbps"),
			                 src);
		if (strata_json_num(dp, "nvlink_gbps_per_direction") > 0) {
			snprintf(src, sizeof(src), "manifest: NVLink %s",
			         strata_json_str(dp, "nvlink_rule"));
			strata_peaks_set(out, "nvlink_bandwidth",
			                 strata_json_num(dp, "nvlink_gbps_per_direction"), src);
		}
		if (strata_json_num(dp, "pcie_gbps_per_direction") > 0) {
			snprintf(src, sizeof(src), "manifest: PCIe %s", strata_json_str(dp, "pcie_rule"));
			strata_peaks_set(out, "pcie_bandwidth",
			                 strata_json_num(dp, "pcie_gbps_per_direction"), src);
		}
	}
}

/* ---- peaks file ------------------------------------------------------------ */

static int file_value(struct strata_ydoc *y, yaml_node_t *v, const char *key,
                      struct strata_peaks *peaks)
{
	char src[320];
	double value;
	snprintf(src, sizeof(src), "peaks file %s", y->source);
	if (v->type == YAML_SCALAR_NODE) {
		if (strata_ydoc_number(y, v, key, &value))
			return -1;
	} else if (v->type == YAML_MAPPING_NODE) {
		int have = 0;
		for (STRATA_YDOC_PAIRS(v)) {
			yaml_node_t *k2 = strata_ydoc_node(y, p_->key),
			            *v2 = strata_ydoc_node(y, p_->value);
			const char *name = strata_ydoc_scalar(k2);
			if (name && !strcmp(name, "value")) {
				if (strata_ydoc_number(y, v2, key, &value))
					return -1;
				have = 1;
			} else if (name && !strcmp(name, "source") && strata_ydoc_scalar(v2)) {
				snprintf(src, sizeof(src), "%s (peaks file %s)",
				         strata_ydoc_scalar(v2), y->source);
			} else {
				return strata_ydoc_error(
				    y, k2, "%s: unknown key '%s' (use value and source)", key,
				    name ? name : "?");
			}
		}
		if (!have)
			return strata_ydoc_error(y, v, "%s: needs a value", key);
	} else {
		return strata_ydoc_error(y, v, "%s: expected a number or {value, source}", key);
	}
	if (!(value > 0))
		return strata_ydoc_error(y, v, "%s: a peak must be > 0", key);
	strata_peaks_set(peaks, key, value, src);
	return 0;
}

int strata_peaks_load_file(const char *path, struct strata_peaks *peaks, char *err, size_t err_len)
{
	struct strata_ydoc y;
	if (strata_ydoc_load(&y, path, err, err_len))
		return -1;
	int rc = -1;
	yaml_node_t *root = strata_ydoc_root(&y);
	if (root->type != YAML_MAPPING_NODE) {
		strata_ydoc_error(&y, root, "a peaks file is a mapping of peak names to values");
		goto out;
	}
	for (STRATA_YDOC_PAIRS(root)) {
		yaml_node_t *k = strata_ydoc_node(&y, p_->key),
		            *v = strata_ydoc_node(&y, p_->value);
		const char *key = strata_ydoc_scalar(k);
		if (!key) {
			strata_ydoc_error(&y, k, "keys must be plain words");
			goto out;
		}
		if ((!strcmp(key, "cpu_gflops_per_core") || !strcmp(key, "gpu_tflops")) &&
		    v->type == YAML_MAPPING_NODE) {
			yaml_node_pair_t *q;
			for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
				yaml_node_t *k2 = strata_ydoc_node(&y, q->key);
				const char *dt = strata_ydoc_scalar(k2);
				char full[128];
				snprintf(full, sizeof(full), "%s.%s", key, dt ? dt : "?");
				if (!strata_peaks_key_known(full)) {
					strata_ydoc_error(&y, k2, "%s: unknown data type '%s'", key,
					                  dt ? dt : "?");
					goto out;
				}
				if (file_value(&y, strata_ydoc_node(&y, q->value), full, peaks))
					goto out;
			}
			continue;
		}
		if (!strata_peaks_key_known(key)) {
			strata_ydoc_error(
			    &y, k,
			    "unknown peak '%s' (known: memory_bandwidth, network_bandwidth, "
			    "intranode_bandwidth, storage_bandwidth, gpu_memory_bandwidth, "
			    "nvlink_bandwidth, pcie_bandwidth, cpu_gflops_per_core.DTYPE, "
			    "gpu_tflops.DTYPE)",
			    key);
			goto out;
		}
		if (file_value(&y, v, key, peaks))
			goto out;
	}
	rc = 0;
out:
	strata_ydoc_release(&y);
	return rc;
}
