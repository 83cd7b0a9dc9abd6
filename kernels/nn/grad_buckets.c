/* grad_buckets.c: bucketed, overlapped gradient all-reduce (grad_buckets.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "harness/timer.h"
#include "kernels/nn/grad_buckets.h"

int strata_grad_buckets_init(struct strata_grad_buckets *b, MPI_Comm comm, float *grads,
                             size_t n, size_t bucket_bytes, int overlap)
{
	memset(b, 0, sizeof(*b));
	if (bucket_bytes < sizeof(float))
		return -1;
	b->comm = comm;
	MPI_Comm_size(comm, &b->nranks);
	b->overlap = overlap;
	b->grads = grads;
	b->n = n;
	b->bucket_floats = bucket_bytes / sizeof(float);
	/* A bucket never exceeds INT_MAX elements (MPI counts are int). */
	if (b->bucket_floats > INT_MAX / 2)
		b->bucket_floats = INT_MAX / 2;
	b->cap = n / b->bucket_floats + 64;
	b->off = malloc(b->cap * sizeof(*b->off));
	b->cnt = malloc(b->cap * sizeof(*b->cnt));
	b->req = malloc(b->cap * sizeof(*b->req));
	if (!b->off || !b->cnt || !b->req) {
		strata_grad_buckets_release(b);
		return -1;
	}
	return 0;
}

void strata_grad_buckets_release(struct strata_grad_buckets *b)
{
	free(b->off);
	free(b->cnt);
	free(b->req);
	memset(b, 0, sizeof(*b));
}

void strata_grad_buckets_begin(struct strata_grad_buckets *b)
{
	b->lo = b->hi = 0;
	b->nbuckets = 0;
	b->first_send_s = 0;
	b->contiguous = 1;
}

/* Send [lo, hi) as one or more buckets of at most INT_MAX/2 elements. */
static void send_pending(struct strata_grad_buckets *b)
{
	while (b->hi > b->lo) {
		size_t count = b->hi - b->lo;
		if (count > (size_t)INT_MAX / 2)
			count = (size_t)INT_MAX / 2;
		size_t off = b->hi - count;
		if (b->nbuckets == b->cap) { /* cannot happen with the cap above; be safe */
			size_t cap = b->cap * 2;
			size_t *o = realloc(b->off, cap * sizeof(*o)), *c;
			if (o)
				b->off = o;
			c = realloc(b->cnt, cap * sizeof(*c));
			if (c)
				b->cnt = c;
			MPI_Request *r = realloc(b->req, cap * sizeof(*r));
			if (r)
				b->req = r;
			if (!o || !c || !r)
				return; /* finish() reports the range as unsent below */
			b->cap = cap;
		}
		if (b->nbuckets == 0)
			b->first_send_s = (double)strata_now_ns() * 1e-9;
		b->off[b->nbuckets] = off;
		b->cnt[b->nbuckets] = count;
		if (b->nranks > 1)
			MPI_Iallreduce(MPI_IN_PLACE, b->grads + off, (int)count, MPI_FLOAT, MPI_SUM, b->comm,
			               &b->req[b->nbuckets]);
		else
			b->req[b->nbuckets] = MPI_REQUEST_NULL;
		b->nbuckets++;
		b->hi = off;
	}
}

void strata_grad_buckets_ready(void *ctx, size_t offset, size_t count)
{
	struct strata_grad_buckets *b = ctx;
	if (count == 0)
		return;
	if (b->lo == b->hi) {
		b->lo = offset;
		b->hi = offset + count;
	} else if (offset + count == b->lo) {
		b->lo = offset;
	} else {
		/* Not adjacent: what is pending goes as it is. */
		b->contiguous = 0;
		if (b->overlap)
			send_pending(b);
		else
			return; /* finish() sends the whole array */
		b->lo = offset;
		b->hi = offset + count;
	}
	if (!b->overlap)
		return;
	if (b->hi - b->lo >= b->bucket_floats)
		send_pending(b);
	if (b->nranks > 1 && b->nbuckets > 0) { /* let MPI progress what is in flight */
		int done;
		MPI_Testall((int)b->nbuckets, b->req, &done, MPI_STATUSES_IGNORE);
	}
}

double strata_grad_buckets_finish(struct strata_grad_buckets *b)
{
	strata_monotime_ns t0 = strata_now_ns();
	if (!b->overlap) {
		/* Without overlap, the whole array in buckets from its end, as
		 * backward would have announced it. */
		b->nbuckets = 0;
		for (size_t hi = b->n; hi > 0;) {
			size_t take = hi < b->bucket_floats ? hi : b->bucket_floats;
			b->lo = hi - take;
			b->hi = hi;
			send_pending(b);
			hi -= take;
		}
	} else {
		send_pending(b); /* the last bucket; earlier ones are in flight */
	}
	int rc = MPI_SUCCESS;
	if (b->nranks > 1 && b->nbuckets > 0)
		rc = MPI_Waitall((int)b->nbuckets, b->req, MPI_STATUSES_IGNORE);
	if (rc != MPI_SUCCESS)
		return -1;
	if (b->nranks > 1) {
		const float scale = 1.0f / (float)b->nranks;
		float *g = b->grads;
		const size_t n = b->n;
#pragma omp parallel for schedule(static)
		for (size_t i = 0; i < n; i++)
			g[i] *= scale;
	}
	return (double)(strata_now_ns() - t0) * 1e-9;
}
