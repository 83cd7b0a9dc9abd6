/* p2p.c: MPI point-to-point latency and bandwidth between pairs of ranks,
 * one way and both ways, after the OSU Micro-Benchmarks' osu_latency, osu_bw
 * and osu_bibw (the exchanges themselves are in kernels/cpu/mpi_p2p.c).
 *
 * What it is: with pattern `pair`, rank 0 against rank nranks/2 (with one rank
 * per node in node order, that pair crosses nodes) while the other ranks idle;
 * with pattern `all-pairs`, every pair of ranks, in rounds of disjoint pairs
 * that measure at the same time (the circle method), so a slow link between
 * two nodes stands out in an (nranks x nranks) matrix and a host x host one.
 * What it is not: a collective benchmark, a multi-pair message-rate test
 * (osu_mbw_mr) or a GPU test (device: cuda comes with the CUDA issue).
 *
 * One run_once = one exchange per round for every round (1 round for `pair`),
 * `window` messages per exchange and direction:
 *   latency    window ping-pong round trips of `size` bytes
 *   bandwidth  window sends of `size` bytes back to back, then a 4-byte ack
 *   bibw       window sends each way at once
 * Before each exchange of `all-pairs` the two partners meet in a zero-byte
 * handshake, so a pair's time does not include its partner finishing the
 * previous round.  The initiator (lower rank) of each pair times its own
 * exchange (the one place this suite reads the clock: the runner's time
 * covers all pairs of a repetition, and the per-pair matrix needs each pair's
 * own); those per-pair samples accumulate in the state over all run_once
 * timed calls (c->timed; warm-up iterations are not kept).
 *
 * Metrics (seconds = the runner's repetition time, the slowest rank's):
 *   latency     us    one-way time per message:
 *                     (seconds / rounds) * 1e6 / (2 * window)   (osu_latency)
 *   bandwidth   GB/s  per pair: size * window (x2 for bibw) / (seconds / rounds)
 *                     / 1e9                              (osu_bw, osu_bibw)
 *   aggregate_bandwidth GB/s  all-pairs only: every pair's bytes over the whole
 *                     tournament / seconds / 1e9
 *   <figure>_worst_pair, <figure>_median_pair  all-pairs only, and only where
 *                     the pair matrix has been gathered (rank 0, after
 *                     verify): the worst pair's and the median pair's figure,
 *                     each the median over repetitions of that pair's own
 *                     timing; they do not depend on `seconds`.
 * For `pair` rounds = 1, so latency and bandwidth are OSU's figures for the
 * one pair; for `all-pairs` they are the figures of an average round, its
 * zero-byte handshake included (so slightly below the pair matrix's).
 *
 * Validation: every message carries the sender's pattern (a function of the
 * sender rank, the size and the byte offset; kernels/cpu/mpi_p2p.h).  verify
 * checks every byte of the receive slots the timed repetitions left (against
 * the sender of this rank's last receiving round), then runs one more, checked
 * tournament: each round it poisons the slots with the complement of the
 * expected pattern, exchanges, and checks every byte, so every pair's link
 * carries at least one checked window.  It counts wrong bytes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/stats.h"
#include "harness/suite.h"
#include "harness/timer.h"
#include "kernels/cpu/mpi_p2p.h"

enum p2p_pattern { P2P_PAIR = 0, P2P_ALL_PAIRS = 1 };

/* Per-pair timings this rank took as initiator against one partner. */
struct pair_samples {
	double *seconds; /* (n) */
	size_t n, cap;
};

/* What verify gathered on rank 0 for describe and metrics. */
struct p2p_gathered {
	double *pair;  /* (R, R) figure of pair (i, j), NAN where not measured */
	char *hosts;   /* (R, MPI_MAX_PROCESSOR_NAME) host of each rank */
};

struct p2p_state {
	enum strata_p2p_mode mode;
	enum p2p_pattern pattern;
	size_t msg_bytes;
	int window;
	MPI_Comm comm;        /* private duplicate of the case's, MPI_ERRORS_RETURN */
	int rank, nranks;     /* R = nranks */
	int rounds;
	int last_recv_peer;   /* sender of the data the timed runs leave, -1 none */
	int64_t run_calls;    /* run_once calls so far (warm-up included) */
	struct strata_p2p_bufs bufs;
	struct pair_samples *samples; /* (R) indexed by partner */
	struct p2p_gathered g;        /* rank 0 after verify; zeroed elsewhere */
	int gathered;
};

static const struct strata_param_def p2p_params[] = {
	{ .name = "device", .type = STRATA_PT_ENUM, .def = "cpu", .choices = "cpu",
	  .help = "where the buffers live (cpu; cuda comes with the CUDA backend)" },
	{ .name = "mode", .type = STRATA_PT_ENUM, .def = "[latency, bandwidth, bibw]",
	  .choices = "latency|bandwidth|bibw",
	  .help = "latency: ping-pong (osu_latency); bandwidth: one-way window + ack "
		  "(osu_bw); bibw: windows both ways at once (osu_bibw)" },
	{ .name = "size", .type = STRATA_PT_SIZE, .def = "{from: 1, to: 4M, factor: 4}",
	  .min = 0, .max = 1 << 30, .help = "bytes per message" },
	{ .name = "window", .type = STRATA_PT_INT, .def = "64", .min = 1, .max = 4096,
	  .help = "messages per exchange and direction (bandwidth, bibw: OSU's window_size); "
		  "round trips per exchange (latency)" },
	{ .name = "pattern", .type = STRATA_PT_ENUM, .def = "pair", .choices = "pair|all-pairs",
	  .help = "pair: rank 0 with rank nranks/2, others idle; all-pairs: every pair, in "
		  "rounds of disjoint pairs measuring at once" },
};

/* Partner of this rank in round r, or -1 if it idles. */
static int p2p_peer(const struct p2p_state *s, int round)
{
	if (s->pattern == P2P_ALL_PAIRS)
		return strata_p2p_partner(s->nranks, round, s->rank);
	int other = s->nranks / 2;
	if (s->rank == 0)
		return other;
	if (s->rank == other)
		return 0;
	return -1;
}

static void p2p_release(struct p2p_state *s)
{
	if (!s)
		return;
	strata_p2p_bufs_release(&s->bufs);
	if (s->samples)
		for (int i = 0; i < s->nranks; i++)
			free(s->samples[i].seconds);
	free(s->samples);
	free(s->g.pair);
	free(s->g.hosts);
	if (s->comm != MPI_COMM_NULL)
		MPI_Comm_free(&s->comm);
	free(s);
}

/* Allocate this rank's part; returns 0 or -1 with a message in c->err. */
static int p2p_alloc(struct p2p_state *s, const struct strata_case *c)
{
	s->samples = calloc((size_t)s->nranks, sizeof(*s->samples));
	if (!s->samples) {
		strata_case_errorf(c, "p2p: out of memory for %d pair records", s->nranks);
		return -1;
	}
	s->last_recv_peer = -1;
	for (int r = 0; r < s->rounds; r++) {
		int peer = p2p_peer(s, r);
		if (peer >= 0 && strata_p2p_receives(s->mode, s->rank < peer))
			s->last_recv_peer = peer;
	}
	return strata_p2p_bufs_init(&s->bufs, s->mode, s->msg_bytes, s->window, s->rank,
				    s->last_recv_peer, c->err, c->err_len);
}

static int p2p_setup(const struct strata_case *c, void **state)
{
	if (c->nranks < 2) {
		strata_case_errorf(c, "p2p needs at least 2 ranks, this run has %d "
				   "(start it under mpirun/srun with -np 2 or more)", c->nranks);
		return STRATA_SKIP;
	}
	struct p2p_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "p2p: out of memory");
		return STRATA_ERROR;
	}
	s->comm = MPI_COMM_NULL;
	s->mode = (enum strata_p2p_mode)strata_p2p_mode_parse(strata_params_str(c->params, "mode"));
	s->pattern = strcmp(strata_params_str(c->params, "pattern"), "all-pairs") == 0
			     ? P2P_ALL_PAIRS : P2P_PAIR;
	s->msg_bytes = (size_t)strata_params_int(c->params, "size");
	s->window = (int)strata_params_int(c->params, "window");
	s->rank = c->rank;
	s->nranks = c->nranks;
	s->rounds = s->pattern == P2P_ALL_PAIRS ? strata_p2p_rounds(c->nranks) : 1;

	/* A private communicator: our tags never meet the runner's messages, and
	 * MPI errors come back as codes instead of aborting the job. */
	int ok = MPI_Comm_dup(c->comm, &s->comm) == MPI_SUCCESS &&
		 MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN) == MPI_SUCCESS;
	if (!ok) {
		strata_case_errorf(c, "p2p: MPI_Comm_dup failed");
		s->comm = MPI_COMM_NULL;
		p2p_release(s);
		return STRATA_ERROR;
	}
	if ((int)s->mode < 0)
		strata_case_errorf(c, "p2p: unknown mode '%s'", strata_params_str(c->params, "mode"));
	int mine = (int)s->mode >= 0 && p2p_alloc(s, c) == 0;
	/* Every rank must agree, or the ranks that did allocate would wait in
	 * run_once for a partner that returned an error. */
	int all = 0;
	if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, s->comm) != MPI_SUCCESS)
		all = 0;
	if (!all) {
		if (mine)
			strata_case_errorf(c, "p2p: setup failed on another rank");
		p2p_release(s);
		return STRATA_ERROR;
	}
	*state = s;
	return STRATA_OK;
}

static int samples_push(struct pair_samples *ps, double seconds)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 64;
		double *p = realloc(ps->seconds, cap * sizeof(*p));
		if (!p)
			return -1;
		ps->seconds = p;
		ps->cap = cap;
	}
	ps->seconds[ps->n++] = seconds;
	return 0;
}

static int p2p_run_once(void *state, const struct strata_case *c)
{
	struct p2p_state *s = state;
	s->run_calls++;
	for (int r = 0; r < s->rounds; r++) {
		int peer = p2p_peer(s, r);
		if (peer < 0)
			continue;
		int initiator = s->rank < peer;
		if (s->pattern == P2P_ALL_PAIRS &&
		    strata_p2p_handshake(s->comm, peer, c->err, c->err_len) != 0)
			return STRATA_ERROR;
		strata_monotime_ns t0 = strata_now_ns();
		if (strata_p2p_exchange(&s->bufs, s->mode, s->comm, peer, initiator, c->err,
					c->err_len) != 0)
			return STRATA_ERROR;
		strata_monotime_ns t1 = strata_now_ns();
		if (initiator && c->timed && samples_push(&s->samples[peer], (double)(t1 - t0) * 1e-9) != 0) {
			strata_case_errorf(c, "p2p: out of memory for pair samples");
			return STRATA_ERROR;
		}
	}
	return STRATA_OK;
}

/* ---- verify --------------------------------------------------------------- */

/* The figure of merit of one pair from one of its own times. */
static double pair_figure(const struct p2p_state *s, double seconds)
{
	if (s->mode == STRATA_P2P_LATENCY)
		return strata_p2p_latency_us(seconds, s->window);
	return strata_p2p_bandwidth_gbps(s->mode, s->msg_bytes, s->window, seconds);
}

/* First wrong byte this rank found, for c->err. */
struct p2p_first_error {
	const char *phase;
	int sender;
	struct strata_p2p_error e;
};

static void note_errors(int64_t n, int64_t *wrong, struct p2p_first_error *first,
			const char *phase, int sender, const struct strata_p2p_error *e)
{
	if (n > 0 && *wrong == 0)
		*first = (struct p2p_first_error){ .phase = phase, .sender = sender, .e = *e };
	*wrong += n;
}

/* One extra tournament, each round poisoned before and checked after. */
static int checked_tournament(struct p2p_state *s, const struct strata_case *c, int64_t *wrong,
			      struct p2p_first_error *first)
{
	for (int r = 0; r < s->rounds; r++) {
		int peer = p2p_peer(s, r);
		if (peer < 0)
			continue;
		int initiator = s->rank < peer;
		int receives = strata_p2p_receives(s->mode, initiator);
		if (receives)
			strata_p2p_slots_poison(&s->bufs, peer);
		if (strata_p2p_exchange(&s->bufs, s->mode, s->comm, peer, initiator, c->err,
					c->err_len) != 0)
			return -1;
		if (receives) {
			struct strata_p2p_error e;
			int64_t n = strata_p2p_slots_check(&s->bufs, peer, &e);
			note_errors(n, wrong, first, "checked exchange", peer, &e);
		}
	}
	return 0;
}

/* Gather the (R, R) pair matrix and the host names to rank 0.  Row i holds
 * the figures rank i measured as initiator; rank 0 mirrors them. */
static int gather_matrices(struct p2p_state *s, const struct strata_case *c)
{
	int R = s->nranks;
	double *row = malloc((size_t)R * sizeof(*row)); /* (R) */
	char host[MPI_MAX_PROCESSOR_NAME] = { 0 };
	int len = 0;
	int rc = -1;
	if (!row) {
		strata_case_errorf(c, "p2p: out of memory");
		return -1;
	}
	for (int j = 0; j < R; j++) {
		row[j] = -1.0; /* not measured: figures are positive */
		const struct pair_samples *ps = &s->samples[j];
		struct strata_stats st;
		if (ps->n > 0 && strata_stats_compute(ps->seconds, ps->n, &st) == 0)
			row[j] = pair_figure(s, st.median);
	}
	MPI_Get_processor_name(host, &len);
	free(s->g.pair);
	free(s->g.hosts);
	s->g.pair = NULL;
	s->g.hosts = NULL;
	s->gathered = 0;
	if (s->rank == 0) {
		s->g.pair = malloc((size_t)R * R * sizeof(*s->g.pair));
		s->g.hosts = calloc((size_t)R, MPI_MAX_PROCESSOR_NAME);
	}
	/* Rank 0 says whether it could allocate, so no rank enters a gather the
	 * root cannot receive. */
	int ok = s->rank != 0 || (s->g.pair && s->g.hosts);
	if (MPI_Bcast(&ok, 1, MPI_INT, 0, s->comm) != MPI_SUCCESS || !ok) {
		strata_case_errorf(c, "p2p: out of memory for the pair matrix on rank 0");
		goto out;
	}
	if (MPI_Gather(row, R, MPI_DOUBLE, s->g.pair, R, MPI_DOUBLE, 0, s->comm) != MPI_SUCCESS ||
	    MPI_Gather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, s->g.hosts, MPI_MAX_PROCESSOR_NAME,
		       MPI_CHAR, 0, s->comm) != MPI_SUCCESS) {
		strata_case_errorf(c, "p2p: MPI_Gather of the pair matrix failed");
		goto out;
	}
	if (s->rank == 0) {
		for (int i = 0; i < R; i++)
			s->g.hosts[(size_t)i * MPI_MAX_PROCESSOR_NAME + MPI_MAX_PROCESSOR_NAME - 1] = 0;
		/* Each unordered pair was measured once, by its lower rank (row i,
		 * column j > i): mark the rest as not measured, then mirror. */
		for (size_t k = 0; k < (size_t)R * R; k++)
			if (s->g.pair[k] < 0)
				s->g.pair[k] = NAN;
		for (int i = 0; i < R; i++)
			for (int j = i + 1; j < R; j++)
				s->g.pair[(size_t)j * R + i] = s->g.pair[(size_t)i * R + j];
		s->gathered = 1;
	}
	rc = 0;
out:
	free(row);
	return rc;
}

static int64_t p2p_verify(void *state, const struct strata_case *c)
{
	struct p2p_state *s = state;
	int64_t wrong = 0;
	struct p2p_first_error first = { 0 };

	/* 1. What the timed repetitions left: slots were poisoned in setup with
	 * the complement of last_recv_peer's pattern, so a message that never
	 * arrived shows as every byte wrong. */
	if (s->run_calls > 0 && s->last_recv_peer >= 0) {
		struct strata_p2p_error e;
		int64_t n = strata_p2p_slots_check(&s->bufs, s->last_recv_peer, &e);
		note_errors(n, &wrong, &first, "timed exchange", s->last_recv_peer, &e);
	}
	/* 2. One more tournament, every round checked. */
	if (checked_tournament(s, c, &wrong, &first) != 0)
		return -1;
	/* 3. Matrices to rank 0 (collective: every rank gets here). */
	if (gather_matrices(s, c) != 0)
		return -1;
	if (wrong > 0)
		strata_case_errorf(c,
				   "%lld wrong bytes; first in the %s from rank %d "
				   "(size %zu, slot %d of %d) at byte %zu: expected 0x%02x, got 0x%02x",
				   (long long)wrong, first.phase, first.sender, s->msg_bytes,
				   first.e.slot, s->bufs.slots, first.e.offset, first.e.expected,
				   first.e.actual);
	return wrong;
}

static void p2p_teardown(void *state)
{
	p2p_release(state);
}

/* ---- figures over pairs ---------------------------------------------------- */

/* Worse of two figures: the higher latency, the lower bandwidth. */
static int worse(const struct p2p_state *s, double a, double b)
{
	return s->mode == STRATA_P2P_LATENCY ? a > b : a < b;
}

struct pair_summary {
	size_t n;               /* measured unordered pairs */
	int worst_i, worst_j, best_i, best_j;
	double worst, best, median;
};

/* Median of v (n), sorting it in place; NAN when n == 0. */
static double median_inplace(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), strata_cmp_double);
	return strata_quantile_sorted(v, n, 0.5);
}

static int summarise_pairs(const struct p2p_state *s, struct pair_summary *out)
{
	int R = s->nranks;
	double *v = malloc((size_t)R * R * sizeof(*v));
	if (!v)
		return -1;
	*out = (struct pair_summary){ .worst_i = -1, .best_i = -1 };
	for (int i = 0; i < R; i++)
		for (int j = i + 1; j < R; j++) {
			double x = s->g.pair[(size_t)i * R + j];
			if (isnan(x))
				continue;
			if (out->n == 0 || worse(s, x, out->worst)) {
				out->worst = x;
				out->worst_i = i;
				out->worst_j = j;
			}
			if (out->n == 0 || worse(s, out->best, x)) {
				out->best = x;
				out->best_i = i;
				out->best_j = j;
			}
			v[out->n++] = x;
		}
	out->median = median_inplace(v, out->n);
	free(v);
	return 0;
}

static size_t p2p_metrics(const void *state, const struct strata_case *c, double seconds,
			  struct strata_metric *out, size_t max)
{
	(void)c;
	const struct p2p_state *s = state;
	size_t n = 0;
	double round_s = seconds / (s->rounds > 0 ? s->rounds : 1);
	int lat = s->mode == STRATA_P2P_LATENCY;
	if (n < max)
		out[n++] = lat ? (struct strata_metric){ "latency", "us",
							 strata_p2p_latency_us(round_s, s->window), 0 }
			       : (struct strata_metric){ "bandwidth", "GB/s",
							 pair_figure(s, round_s), 1 };
	if (s->pattern != P2P_ALL_PAIRS)
		return n;
	if (!lat && n < max && seconds > 0) {
		double pairs = (double)s->nranks * (s->nranks - 1) / 2;
		double bytes = pairs * (double)strata_p2p_bytes_moved(s->mode, s->msg_bytes,
								      s->window);
		out[n++] = (struct strata_metric){ "aggregate_bandwidth", "GB/s",
						   bytes / seconds / 1e9, 1 };
	}
	struct pair_summary ps;
	if (!s->gathered || summarise_pairs(s, &ps) != 0 || ps.n == 0)
		return n;
	if (n < max)
		out[n++] = (struct strata_metric){ lat ? "latency_worst_pair" : "bandwidth_worst_pair",
						   lat ? "us" : "GB/s", ps.worst, !lat };
	if (n < max)
		out[n++] = (struct strata_metric){ lat ? "latency_median_pair"
						       : "bandwidth_median_pair",
						   lat ? "us" : "GB/s", ps.median, !lat };
	return n;
}

/* ---- describe --------------------------------------------------------------- */

static json_t *json_figure(double x)
{
	return isnan(x) ? json_null() : json_real(x);
}

static const char *host_of(const struct p2p_state *s, int rank)
{
	return s->g.hosts + (size_t)rank * MPI_MAX_PROCESSOR_NAME;
}

static json_t *pair_object(const struct p2p_state *s, int i, int j, double value)
{
	return json_pack("{s:[i,i], s:[s,s], s:o}", "ranks", i, j, "hosts", host_of(s, i),
			 host_of(s, j), "value", json_figure(value));
}

/* host x host matrix: median of the pair figures between two hosts (the
 * diagonal: pairs within one host), the number of pairs behind each, and the
 * medians within and across hosts. */
static void describe_hosts(const struct p2p_state *s, json_t *d)
{
	int R = s->nranks;
	int *host_id = malloc((size_t)R * sizeof(*host_id)); /* (R) */
	double *v = malloc((size_t)R * R * sizeof(*v));      /* scratch */
	if (!host_id || !v)
		goto out;
	int H = 0;
	json_t *names = json_array();
	for (int i = 0; i < R; i++) {
		host_id[i] = -1;
		for (int k = 0; k < i && host_id[i] < 0; k++)
			if (strcmp(host_of(s, i), host_of(s, k)) == 0)
				host_id[i] = host_id[k];
		if (host_id[i] < 0) {
			host_id[i] = H++;
			json_array_append_new(names, json_string(host_of(s, i)));
		}
	}
	json_t *matrix = json_array(), *counts = json_array();
	for (int a = 0; a < H; a++) {
		json_t *mrow = json_array(), *crow = json_array();
		for (int b = 0; b < H; b++) {
			size_t n = 0;
			for (int i = 0; i < R; i++)
				for (int j = i + 1; j < R; j++) {
					double x = s->g.pair[(size_t)i * R + j];
					int hi = host_id[i], hj = host_id[j];
					if (!isnan(x) && ((hi == a && hj == b) || (hi == b && hj == a)))
						v[n++] = x;
				}
			json_array_append_new(mrow, json_figure(median_inplace(v, n)));
			json_array_append_new(crow, json_integer((json_int_t)n));
		}
		json_array_append_new(matrix, mrow);
		json_array_append_new(counts, crow);
	}
	json_object_set_new(d, "host_names", names);
	json_object_set_new(d, "host_matrix", matrix);
	json_object_set_new(d, "host_pair_counts", counts);
	for (int across = 0; across <= 1; across++) {
		size_t n = 0;
		for (int i = 0; i < R; i++)
			for (int j = i + 1; j < R; j++) {
				double x = s->g.pair[(size_t)i * R + j];
				if (!isnan(x) && (host_id[i] != host_id[j]) == across)
					v[n++] = x;
			}
		json_object_set_new(d, across ? "median_across_hosts" : "median_within_host",
				    json_figure(median_inplace(v, n)));
	}
out:
	free(host_id);
	free(v);
}

static void p2p_describe(const void *state, const struct strata_case *c, json_t *d)
{
	(void)c;
	const struct p2p_state *s = state;
	int lat = s->mode == STRATA_P2P_LATENCY;
	int R = s->nranks;
	json_object_set_new(d, "msg_bytes", json_integer((json_int_t)s->msg_bytes));
	json_object_set_new(d, "window", json_integer(s->window));
	json_object_set_new(d, "rounds", json_integer(s->rounds));
	json_object_set_new(d, "recv_slots", json_integer(s->bufs.slots));
	json_object_set_new(d, "bytes_per_exchange",
			    json_integer((json_int_t)strata_p2p_bytes_moved(s->mode, s->msg_bytes,
									    s->window)));
	if (s->pattern == P2P_PAIR)
		json_object_set_new(d, "pair", json_pack("[i,i]", 0, R / 2));
	if (!s->gathered)
		return;
	json_object_set_new(d, "pair_figure",
			    json_pack("{s:s, s:s, s:s, s:I}", "name", lat ? "latency" : "bandwidth",
				      "unit", lat ? "us" : "GB/s", "statistic",
				      "median over run_once calls (warm-up included) of the pair's "
				      "own exchange time, taken by its lower rank",
				      "samples_per_pair", (json_int_t)s->run_calls));
	json_t *hosts = json_array(), *matrix = json_array();
	for (int i = 0; i < R; i++) {
		json_array_append_new(hosts, json_string(host_of(s, i)));
		json_t *row = json_array();
		for (int j = 0; j < R; j++)
			json_array_append_new(row, json_figure(s->g.pair[(size_t)i * R + j]));
		json_array_append_new(matrix, row);
	}
	json_object_set_new(d, "rank_hosts", hosts);
	json_object_set_new(d, "pair_matrix", matrix);
	describe_hosts(s, d);
	struct pair_summary ps;
	if (summarise_pairs(s, &ps) != 0 || ps.n == 0)
		return;
	json_object_set_new(d, "pairs_measured", json_integer((json_int_t)ps.n));
	json_object_set_new(d, "worst_pair", pair_object(s, ps.worst_i, ps.worst_j, ps.worst));
	json_object_set_new(d, "best_pair", pair_object(s, ps.best_i, ps.best_j, ps.best));
	json_object_set_new(d, "median_over_pairs", json_figure(ps.median));
}

const struct strata_suite strata_suite_p2p = {
	.name = "p2p",
	.summary = "MPI point-to-point latency and bandwidth between rank pairs (OSU-style), "
		   "one pair or all pairs with a pair matrix",
	.flags = STRATA_SUITE_COLLECTIVE,
	.params = p2p_params,
	.n_params = sizeof(p2p_params) / sizeof(p2p_params[0]),
	.setup = p2p_setup,
	.run_once = p2p_run_once,
	.verify = p2p_verify,
	.teardown = p2p_teardown,
	.metrics = p2p_metrics,
	.describe = p2p_describe,
};
