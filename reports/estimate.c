/* estimate.c: projections from measured figures (see estimate.h for every
 * formula and its source). */
#include "reports/estimate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/svg_chart.h"

#define str strata_json_str

static const double GIB = 1024.0 * 1024 * 1024;

void strata_estimate_inputs_default(struct strata_estimate_inputs *in)
{
	memset(in, 0, sizeof(*in));
	in->precision = "bf16";
	in->optimizer = STRATA_OPT_ADAM;
	in->util = 0.5;
	in->bytes_per_token = 2;
	in->currency = "USD";
}

struct precision {
	const char *name, *gemm_dtype;
	double weight_bytes, grad_bytes, optim_bytes_adam, optim_bytes_sgd;
	const char *rule;
};

static const struct precision PRECISIONS[] = {
    {"bf16", "bfloat16", 2, 2, 12, 8,
     "mixed precision: bf16 weights and gradients; fp32 master weights + Adam momentum and "
     "variance = 12 B/param (SGD: master + momentum = 8)"},
    {"fp16", "float16", 2, 2, 12, 8,
     "mixed precision: fp16 weights and gradients; fp32 master weights + Adam momentum and "
     "variance = 12 B/param (SGD: master + momentum = 8)"},
    {"fp32", "float32", 4, 4, 8, 4,
     "fp32 weights and gradients; Adam momentum and variance = 8 B/param (SGD momentum: 4)"},
    {"fp8", "fp8", 1, 2, 12, 8,
     "fp8 weights for the matmuls, bf16 gradients, fp32 master weights + Adam states = 12 "
     "B/param (assumed: recipes differ)"},
};

/* The best passed figure of metric among records of suite (with param ==
 * value when param is given): its median and the record. */
static const json_t *best_record(const struct strata_run *run, const char *suite, const char *param,
                                 const char *value, const char *metric, const char *by, double *out)
{
	const json_t *best = NULL;
	double best_v = -1, best_by = -1;
	size_t i;
	json_t *r;
	*out = NAN;
	if (!run)
		return NULL;
	json_array_foreach(run->records, i, r) {
		if (strcmp(str(r, "suite"), suite) || strcmp(str(r, "status"), "passed"))
			continue;
		if (param && strcmp(str(json_object_get(r, "params"), param), value))
			continue;
		double v = strata_json_num(strata_record_metric(r, metric), "median");
		if (!isfinite(v))
			continue;
		double b = by ? strata_json_num(json_object_get(r, "params"), by) : v;
		if (!best || b > best_by || (b == best_by && v > best_v)) {
			best = r;
			best_v = v;
			best_by = b;
		}
	}
	*out = best_v;
	return best;
}

static void gib_cell(struct strata_table *t, double bytes)
{
	strata_table_cell(t, "%.2f GiB", bytes / GIB);
}

static void human_time(double s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%.4g s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.4g min", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%.4g h", s / 3600);
	else
		snprintf(buf, len, "%.4g days", s / 86400);
}

static void input_row(struct strata_table *t, const char *name, const char *from, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void input_row(struct strata_table *t, const char *name, const char *from, const char *fmt,
                      ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	strata_table_row(t);
	strata_table_cell(t, "%s", name);
	strata_table_cell(t, "%s", buf);
	strata_table_cell(t, "%s", from);
}

int strata_estimate_build(const struct strata_run *run, const struct strata_estimate_inputs *in,
                          struct strata_doc *d, char *err, size_t err_len)
{
	strata_doc_init(d, "strata estimate"); /* released by the caller whatever happens */
	const struct precision *pr = NULL;
	for (size_t i = 0; i < sizeof(PRECISIONS) / sizeof(PRECISIONS[0]); i++)
		if (!strcmp(in->precision, PRECISIONS[i].name))
			pr = &PRECISIONS[i];
	if (!pr) {
		snprintf(err, err_len, "--precision: expected bf16, fp16, fp32 or fp8, got '%s'",
		         in->precision);
		return -1;
	}
	if (!(in->params > 0)) {
		snprintf(err, err_len,
		         "--params: the model's parameter count is required (e.g. 7e9)");
		return -1;
	}
	const json_t *m = run ? run->manifest : NULL;
	const json_t *sys = json_array_get(json_object_get(m, "systems"), 0);
	size_t nodes_run = run ? strata_run_n_hosts(run) : 1;
	double ranks = m ? strata_json_num(m, "ranks") : NAN;
	double G = in->gpus > 0 ? in->gpus : in->serve && !(ranks > 0) ? 1 : ranks;
	if (!(G >= 1)) {
		snprintf(err, err_len, "--gpus: how many accelerators (no run to take it from)");
		return -1;
	}
	size_t gpn_manifest = json_array_size(strata_system_gpus(sys));
	double gpn = in->gpus_per_node > 0 ? in->gpus_per_node
	             : gpn_manifest        ? (double)gpn_manifest
	             : ranks > 0           ? ranks / (double)nodes_run
	                                   : 1;
	double nodes = ceil(G / gpn);
	double N = in->params;
	char title[256];
	snprintf(title, sizeof(title),
	         "strata estimate: %s a %.4g-parameter model on %g accelerator(s)",
	         in->serve ? "serving" : "training", N, G);
	free(d->title);
	d->title = strdup(title);
	if (run)
		strata_doc_para(d, "Measured figures from run `%s` (%s).", str(m, "run_id"),
		                run->dir);

	/* ---- inputs ---- */
	strata_doc_heading(d, 1, "Inputs");
	struct strata_table *t = strata_doc_table(d, 3, "input", "value", "from");
	input_row(t, "parameters N", "--params", "%.4g", N);
	input_row(t, "precision", in->precision == PRECISIONS[0].name ? "default" : "--precision",
	          "%s", pr->name);
	input_row(t, "accelerators G",
	          in->gpus > 0 ? "--gpus"
	          : ranks > 0  ? "the run's ranks"
	                       : "default",
	          "%g", G);
	input_row(t, "accelerators per node",
	          in->gpus_per_node > 0 ? "--gpus-per-node"
	          : gpn_manifest        ? "manifest (GPUs of the first host)"
	                                : "the run's ranks per node",
	          "%g (so %g node(s))", gpn, nodes);
	if (!in->serve) {
		input_row(t, "optimizer", "--optimizer", "%s",
		          in->optimizer == STRATA_OPT_ADAM  ? "adam"
		          : in->optimizer == STRATA_OPT_SGD ? "sgd"
		                                            : "none");
		input_row(t, "ZeRO stage", "--zero", "%d", in->zero);
	}
	if (in->layers > 0)
		input_row(t, "model shape", "--layers --hidden --heads",
		          "L %g, h %g, a %g heads (%g KV heads)", in->layers, in->hidden, in->heads,
		          in->kv_heads > 0 ? in->kv_heads : in->heads);
	if (in->seq_len > 0)
		input_row(t, "sequence length s, micro-batch b", "--seq-len --micro-batch",
		          "%g, %g", in->seq_len, in->micro_batch > 0 ? in->micro_batch : 1);

	/* ---- measured figures ---- */
	strata_doc_heading(d, 1, "Measured figures");
	t = strata_doc_table(d, 3, "figure", "value", "from");
	double gemm_gflops = NAN, busbw = NAN, storage = NAN;
	const json_t *gr =
	    best_record(run, "gemm", "dtype", pr->gemm_dtype, "gflops", NULL, &gemm_gflops);
	if (in->gemm_tflops > 0) {
		gemm_gflops = in->gemm_tflops * 1e3;
		input_row(t, "GEMM rate R per accelerator", "--gemm-tflops", "%.4g TFLOP/s",
		          in->gemm_tflops);
	} else if (gr) {
		char from[1200];
		snprintf(from, sizeof(from), "best median of `%s`", str(gr, "metric_key"));
		input_row(t, "GEMM rate R per accelerator", from, "%.4g TFLOP/s (%s)",
		          gemm_gflops / 1e3, pr->gemm_dtype);
	}
	double busbw_ranks = NAN;
	const json_t *ar = best_record(run, "allreduce", NULL, NULL, "busbw", "size", &busbw);
	if (in->busbw_gbps > 0) {
		busbw = in->busbw_gbps;
		input_row(t, "all-reduce bus bandwidth", "--busbw-gbps", "%.4g GB/s", busbw);
	} else if (ar) {
		char from[1200], size[64];
		busbw_ranks = strata_json_num(ar, "ranks");
		strata_format_bytes(strata_json_num(json_object_get(ar, "params"), "size"), size,
		                    sizeof(size));
		snprintf(from, sizeof(from), "`%s` (the largest message measured, %s, at %g ranks)",
		         str(ar, "metric_key"), size, busbw_ranks);
		input_row(t, "all-reduce bus bandwidth", from, "%.4g GB/s", busbw);
	}
	/* storage: the best whole-run throughput (aggregate_bandwidth) over the
	 * run's nodes, as a per-node figure */
	const json_t *sr = NULL;
	if (run) {
		size_t i;
		json_t *r;
		json_array_foreach(run->records, i, r) {
			if (strcmp(str(r, "suite"), "storage") ||
			    strcmp(str(r, "status"), "passed"))
				continue;
			const json_t *mt = strata_record_metric(r, "aggregate_bandwidth");
			double v = strata_json_num(mt, "median") / (double)nodes_run;
			if (mt && !strcmp(str(mt, "unit"), "GB/s") && !(v <= storage)) {
				storage = v;
				sr = r;
			}
		}
	}
	if (in->storage_gbps > 0) {
		storage = in->storage_gbps;
		input_row(t, "storage throughput per node", "--storage-gbps", "%.4g GB/s", storage);
	} else if (sr) {
		char from[1200];
		snprintf(from, sizeof(from), "best aggregate_bandwidth / %zu node(s), `%s`",
		         nodes_run, str(sr, "metric_key"));
		input_row(t, "storage throughput per node", from, "%.4g GB/s", storage);
	}
	if (t->n_rows == 0)
		strata_doc_para(
		    d, "None%s.",
		    in->serve ? " (serving memory needs none)"
		              : ": the run has none of the figures needed and none was given");

	/* ---- memory ---- */
	double wb = pr->weight_bytes, gb = in->serve ? 0 : pr->grad_bytes;
	double ob = in->serve || in->optimizer == STRATA_OPT_NONE ? 0
	            : in->optimizer == STRATA_OPT_ADAM            ? pr->optim_bytes_adam
	                                                          : pr->optim_bytes_sgd;
	double zw = in->zero >= 3 ? G : 1, zg = in->zero >= 2 ? G : 1, zo = in->zero >= 1 ? G : 1;
	double weights = N * wb / zw, grads = N * gb / zg, optim = N * ob / zo;
	double s = in->seq_len, b = in->micro_batch > 0 ? in->micro_batch : 1, h = in->hidden,
	       a = in->heads, L = in->layers;
	int dims = L > 0 && h > 0 && a > 0, shape = dims && s > 0;
	double act = NAN, kv = NAN;
	strata_doc_heading(d, 1, "Memory per accelerator");
	t = strata_doc_table(d, 3, "part", "formula", "size");
	strata_table_row(t);
	strata_table_cell(t, "weights");
	strata_table_cell(t, "N x %g B%s", wb, zw > 1 ? " / G (ZeRO-3)" : "");
	gib_cell(t, weights);
	if (!in->serve) {
		strata_table_row(t);
		strata_table_cell(t, "gradients");
		strata_table_cell(t, "N x %g B%s", gb, zg > 1 ? " / G (ZeRO-2)" : "");
		gib_cell(t, grads);
		strata_table_row(t);
		strata_table_cell(t, "optimizer states");
		strata_table_cell(t, "N x %g B%s", ob, zo > 1 ? " / G (ZeRO-1)" : "");
		gib_cell(t, optim);
		if (shape) {
			double per_layer = in->recompute == STRATA_RECOMPUTE_FULL ? 2 * s * b * h
			                   : in->recompute == STRATA_RECOMPUTE_SELECTIVE
			                       ? 34 * s * b * h
			                       : s * b * h * (34 + 5 * a * s / h);
			/* the paper's figures are for 16-bit activations */
			act = L * per_layer * (pr->weight_bytes >= 4 ? 2 : 1);
			strata_table_row(t);
			strata_table_cell(t, "activations");
			strata_table_cell(t, "%s%s",
			                  in->recompute == STRATA_RECOMPUTE_FULL
			                      ? "L x 2 s b h (full recomputation)"
			                  : in->recompute == STRATA_RECOMPUTE_SELECTIVE
			                      ? "L x 34 s b h (selective recomputation)"
			                      : "L x s b h (34 + 5 a s / h)",
			                  pr->weight_bytes >= 4 ? " x 2 (fp32 activations)" : "");
			gib_cell(t, act);
		}
	} else if (dims && (in->context > 0 || s > 0)) {
		double ctx = in->context > 0 ? in->context : s,
		       bb = in->serve_batch > 0 ? in->serve_batch : 1;
		double kvh = in->kv_heads > 0 ? in->kv_heads : a;
		kv = 2 * L * ctx * bb * h * (kvh / a) * wb;
		strata_table_row(t);
		strata_table_cell(t, "KV cache");
		strata_table_cell(t, "2 x L x context %g x batch %g x h x (%g/%g KV heads) x %g B",
		                  ctx, bb, kvh, a, wb);
		gib_cell(t, kv);
	}
	double total = weights + grads + optim + (isnan(act) ? 0 : act) + (isnan(kv) ? 0 : kv);
	strata_table_row(t);
	strata_table_cell(t, "**total**");
	strata_table_cell(
	    t, "%s",
	    (!in->serve && !shape)     ? "without activations (give the model shape and --seq-len)"
	    : (in->serve && isnan(kv)) ? "without the KV cache (give the model shape and --context)"
	                               : "");
	gib_cell(t, total);
	double mem =
	    in->memory_gib > 0
	        ? in->memory_gib * GIB
	        : strata_json_num(json_array_get(strata_system_gpus(sys), 0), "memory_bytes");
	if (mem > 0)
		strata_doc_para(
		    d, "%s: %.2f GiB needed of %.2f GiB per accelerator (%s)%s.",
		    total <= mem ? "**Fits**" : "**Does not fit**", total / GIB, mem / GIB,
		    in->memory_gib > 0 ? "--memory-gib" : "manifest",
		    total <= mem ? ""
		                 : ": shard more (ZeRO stage, tensor or pipeline parallelism) or "
		                   "recompute activations");
	else
		strata_doc_para(
		    d, "Accelerator memory unknown (no GPU in the manifest): give --memory-gib "
		       "to check the fit.");
	if (in->serve)
		strata_doc_para(
		    d,
		    "Weights in %s. KV cache: keys and values of every layer for every "
		    "token of the context of every sequence in the batch; with grouped-query "
		    "attention (Ainslie et al., EMNLP 2023) only the KV heads are cached. "
		    "Framework buffers, fragmentation and the CUDA context (often 1-3 GiB) are "
		    "not counted.",
		    pr->name);
	else
		strata_doc_para(
		    d,
		    "Weights/gradients/optimizer: %s (ZeRO, Rajbhandari et al. 2020). "
		    "Activations: Korthikanti et al. 2023, eq. 1, 16-bit activations, no "
		    "tensor or sequence parallelism; framework buffers, fragmentation and "
		    "the CUDA context (often 1-3 GiB) are not counted.",
		    pr->rule);
	if (in->serve) {
		strata_doc_heading(d, 1, "Assumptions");
		strata_doc_item(
		    d, "Serving memory only; throughput projections for serving need the infer "
		       "suite's measured latencies.");
		return 0;
	}

	/* ---- step time ---- */
	strata_doc_heading(d, 1, "Step time (data parallel)");
	double tokens_step = in->global_batch > 0 && s > 0 ? in->global_batch * s : 0;
	if (!(tokens_step > 0)) {
		strata_doc_para(
		    d, "Give --global-batch (sequences per step) and --seq-len for the step time, "
		       "the training time and the storage bandwidth.");
		return 0;
	}
	if (!(gemm_gflops > 0)) {
		snprintf(err, err_len,
		         "no measured GEMM rate for %s: the run has no passed gemm case with dtype "
		         "%s; give "
		         "--gemm-tflops",
		         pr->name, pr->gemm_dtype);
		return -1;
	}
	double flops_token =
	    (in->recompute == STRATA_RECOMPUTE_FULL ? 8 : 6) * N + (shape ? 6 * L * s * h : 0);
	double rate = gemm_gflops * 1e9 * in->util;
	double t_comp = flops_token * tokens_step / (G * rate);
	double S = N * pr->grad_bytes * (in->zero >= 3 ? 1.5 : 1);
	double t_comm = G > 1 && busbw > 0 ? 2 * (G - 1) / G * S / (busbw * 1e9) : 0;
	if (G > 1 && !(busbw > 0)) {
		snprintf(err, err_len,
		         "no measured all-reduce bus bandwidth: the run has no passed allreduce "
		         "case; give --busbw-gbps");
		return -1;
	}
	double exposed = fmax(0, t_comm - in->overlap * t_comp);
	double t_step = t_comp + exposed;
	t = strata_doc_table(d, 3, "part", "formula", "time per step");
	char buf[64];
	strata_table_row(t);
	strata_table_cell(t, "tokens per step");
	strata_table_cell(t, "global batch %g x s %g", in->global_batch, s);
	strata_table_cell(t, "%.4g tokens", tokens_step);
	strata_table_row(t);
	strata_table_cell(t, "compute");
	strata_table_cell(t, "F x tokens / (G x R x u) = %.4g x %.4g / (%g x %.4g TFLOP/s x %g)%s",
	                  flops_token, tokens_step, G, gemm_gflops / 1e3, in->util,
	                  shape ? "; F = 6 N + 6 L s h" : "; F = 6 N");
	human_time(t_comp, buf, sizeof(buf));
	strata_table_cell(t, "%s", buf);
	strata_table_row(t);
	strata_table_cell(t, "gradient all-reduce");
	strata_table_cell(t, "2 (G-1)/G x S / busbw, S = N x %g B%s = %.4g GB, busbw %.4g GB/s",
	                  pr->grad_bytes, in->zero >= 3 ? " x 1.5 (ZeRO-3)" : "", S / 1e9, busbw);
	human_time(t_comm, buf, sizeof(buf));
	strata_table_cell(t, "%s", buf);
	strata_table_row(t);
	strata_table_cell(t, "exposed communication");
	strata_table_cell(t, "max(0, comm - overlap %g x compute)", in->overlap);
	human_time(exposed, buf, sizeof(buf));
	strata_table_cell(t, "%s", buf);
	strata_table_row(t);
	strata_table_cell(t, "**step**");
	strata_table_cell(t, "compute + exposed communication");
	human_time(t_step, buf, sizeof(buf));
	strata_table_cell(t, "**%s**", buf);
	strata_doc_para(d, "Throughput: %.4g tokens/s in all, %.4g per accelerator.",
	                tokens_step / t_step, tokens_step / t_step / G);

	/* ---- time and money ---- */
	if (in->tokens > 0) {
		strata_doc_heading(d, 1, "Time and cost to train on %.4g tokens", in->tokens);
		double steps = in->tokens / tokens_step, secs = steps * t_step, hours = secs / 3600;
		human_time(secs, buf, sizeof(buf));
		strata_doc_item(d, "%.4g steps x %.4g s = **%s** of wall-clock time", steps, t_step,
		                buf);
		strata_doc_item(d, "%.4g accelerator-hours (x %g accelerators)", hours * G, G);
		if (in->price > 0)
			strata_doc_item(
			    d,
			    "**%.4g %s** at %g %s per accelerator-hour (compute only: no storage, "
			    "network, idle or failed time)",
			    hours * G * in->price, in->currency, in->price, in->currency);
	}

	/* ---- storage ---- */
	strata_doc_heading(d, 1, "Storage bandwidth to feed the job");
	double bytes_step = tokens_step * in->bytes_per_token;
	double need = bytes_step / t_step / 1e9, need_node = need / nodes;
	strata_doc_item(
	    d,
	    "%.4g tokens per step x %g B per token = %.4g MB per step; over a %.4g s step: "
	    "%.4g GB/s in all, %.4g GB/s per node (%g nodes)",
	    tokens_step, in->bytes_per_token, bytes_step / 1e6, t_step, need, need_node, nodes);
	double t_data = storage > 0 ? bytes_step / nodes / (storage * 1e9) : NAN;
	if (storage > 0)
		strata_doc_item(
		    d,
		    "measured %.4g GB/s per node: reading a step's data takes %.4g s (%.1f%% of "
		    "a step)",
		    storage, t_data, 100 * t_data / t_step);
	else
		strata_doc_item(d, "no storage throughput measured (run the storage suite, or give "
		                   "--storage-gbps) to say whether storage keeps up");

	/* ---- verdict ---- */
	strata_doc_heading(d, 1, "What limits this job");
	const char *limit = "compute";
	double worst = t_comp;
	if (exposed > worst) {
		limit = "gradient communication";
		worst = exposed;
	}
	if (t_data > t_step) {
		limit = "storage (data loading is slower than a step)";
		worst = t_data;
	}
	if (isnan(t_data))
		strata_doc_para(d,
		                "**%s** (the largest part, %.4g s): compute %.4g s, exposed "
		                "communication %.4g s per step; data loading unknown.",
		                limit, worst, t_comp, exposed);
	else
		strata_doc_para(
		    d,
		    "**%s** (the largest part, %.4g s): compute %.4g s, exposed "
		    "communication %.4g s, data loading %.4g s per step (prefetched: it limits "
		    "only when longer than a step).",
		    limit, worst, t_comp, exposed, t_data);

	strata_doc_heading(d, 1, "Assumptions");
	strata_doc_item(d,
	                "The whole model sustains u = %g of the measured GEMM rate (an MFU-style "
	                "assumption; give --util).",
	                in->util);
	if (busbw_ranks > 0 && busbw_ranks != G)
		strata_doc_item(
		    d,
		    "The bus bandwidth measured at %g ranks holds at %g accelerators (ring "
		    "all-reduce bus bandwidth is nearly independent of the rank count; a "
		    "hierarchical network may differ).",
		    busbw_ranks, G);
	strata_doc_item(d,
	                "Communication hides behind %g of compute (--overlap; bucketed all-reduce "
	                "during the backward pass can hide up to about 2/3).",
	                in->overlap);
	strata_doc_item(
	    d, "Pure data parallelism, every accelerator holds a full replica (unless ZeRO-3); "
	       "no pipeline bubbles, no tensor-parallel communication.");
	strata_doc_item(d,
	                "Dataset stored as %g byte(s) per token (--bytes-per-token), read once per "
	                "epoch, no caching.",
	                in->bytes_per_token);
	return 0;
}
