/* train_data.c: the train suite's data (suites/train.c): each rank's
 * training shards of the Markov corpus written into the work directory,
 * the prefetching loader over them, and the mean validation loss over the
 * held-out shard.  Not the shard format or the loader themselves
 * (kernels/nn/token_shards.h), nor the chain (kernels/nn/markov.h). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness/plan.h"
#include "suites/train_internal.h"

/* Each rank's training shards (its own token stream) and the validation
 * shard (one stream every rank writes alike, so each host has it). */
int strata_train_write_data(struct train_state *s, const struct strata_params *p, char *err,
                            size_t err_len)
{
	uint64_t corpus_seed = (uint64_t)strata_params_int(p, "corpus_seed");
	s->n_names = (int)strata_params_int(p, "shards");
	s->names = calloc((size_t)s->n_names, sizeof(*s->names));
	if (!s->names) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	uint64_t per = s->train_tokens / (uint64_t)s->n_names;
	if (per < (uint64_t)(s->T + 1)) {
		snprintf(
		    err, err_len,
		    "train_tokens: %llu tokens in %d shards leave fewer than seq+1 = %d per shard",
		    (unsigned long long)s->train_tokens, s->n_names, s->T + 1);
		return -1;
	}
	struct strata_markov_stream st;
	/* Streams: seed, rank and purpose mixed by distinct odd multipliers. */
	strata_markov_stream_init(&st, &s->chain,
	                          corpus_seed * 0x9E3779B97F4A7C15ull +
	                              (uint64_t)s->rank * 0xBF58476D1CE4E5B9ull + 1);
	for (int i = 0; i < s->n_names; i++) {
		if (asprintf(&s->names[i], "train-r%d-%d.tok", s->rank, i) < 0) {
			s->names[i] = NULL;
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		if (strata_shard_write(s->ws.dirfd, s->names[i], &st, per, s->corpus_vocab,
		                       corpus_seed, s->direct, err, err_len) != 0)
			return -1;
	}
	char vname[64];
	snprintf(vname, sizeof(vname), "val-r%d.tok", s->rank);
	strata_markov_stream_init(&st, &s->chain, corpus_seed * 0x94D049BB133111EBull + 0x5A17);
	if (strata_shard_write(s->ws.dirfd, vname, &st, s->val_tokens_n, s->corpus_vocab,
	                       corpus_seed, 0, err, err_len) != 0)
		return -1;
	return strata_shard_read_all(s->ws.dirfd, vname, s->corpus_vocab, &s->val, &s->val_n, err,
	                             err_len);
}

int strata_train_open_loader(struct train_state *s, char *err, size_t err_len)
{
	struct strata_shard_loader_cfg lc = {
	    .dirfd = s->ws.dirfd,
	    .names = (const char *const *)s->names,
	    .n_names = s->n_names,
	    .vocab = s->corpus_vocab,
	    .B = s->B,
	    .T = s->T,
	    .threads = s->loader_threads,
	    .prefetch = s->prefetch,
	    .direct = s->direct,
	};
	return strata_shards_open(&s->loader, &lc, err, err_len);
}

void strata_train_close_loader(struct train_state *s)
{
	if (!s->loader)
		return;
	uint64_t bytes, batches, epochs;
	strata_shards_counters(s->loader, &bytes, &batches, &epochs);
	s->bytes_read += bytes;
	strata_shards_close(s->loader);
	s->loader = NULL;
}

/* The mean loss of the first b sequences of inputs/targets, without a
 * backward; a GPU failure is a non-finite loss with its reason. */
static float batch_loss(struct train_state *s, int b)
{
	if (!s->gpu)
		return strata_gpt_forward(&s->g, s->inputs, s->targets, b, s->T);
	float l = NAN;
	char err[256];
	if (strata_train_gpu_loss(s->gpu, s->inputs, s->targets, b, s->T, &l, err, sizeof(err)) !=
	        0 &&
	    s->nonfinite++ == 0 && !s->first_bad[0])
		snprintf(s->first_bad, sizeof(s->first_bad),
		         "validation forward on the GPU: %.200s", err);
	return l;
}

/* Mean validation loss over the held-out shard, the sequences split over
 * the training ranks (collective). */
double strata_train_evaluate(struct train_state *s)
{
	const int T = s->T;
	uint64_t nseq = s->val_n / (uint64_t)(T + 1);
	double acc[2] = {0, 0}; /* loss x tokens, tokens */
	int b = 0;
	for (uint64_t q = (uint64_t)s->rank; q < nseq; q += (uint64_t)s->nranks) {
		const uint16_t *row = s->val + q * (uint64_t)(T + 1);
		for (int t = 0; t < T; t++) {
			s->inputs[b * T + t] = row[t] < s->corpus_vocab ? row[t] : 0;
			s->targets[b * T + t] = row[t + 1] < s->corpus_vocab ? row[t + 1] : 0;
		}
		if (++b == s->B || q + (uint64_t)s->nranks >= nseq) {
			float l = batch_loss(s, b);
			acc[0] += (double)l * b * T;
			acc[1] += (double)b * T;
			b = 0;
		}
	}
	MPI_Allreduce(MPI_IN_PLACE, acc, 2, MPI_DOUBLE, MPI_SUM, s->comm);
	return acc[1] > 0 ? acc[0] / acc[1] : NAN;
}
