/* grad_buckets.h: the data-parallel gradient all-reduce of the training
 * suite, in buckets, overlapped with the backward pass.
 *
 * What it is: the model's backward (kernels/nn/gpt.h) announces each
 * contiguous range of the flat gradient array as soon as it is final, from
 * the end of the array towards its start.  Ranges are gathered into a
 * pending bucket; when it holds at least bucket_bytes it is sent at once
 * with MPI_Iallreduce (in place, MPI_SUM, FP32) while backward goes on with
 * the layers below, as PyTorch DDP's gradient buckets do (Li et al., "PyTorch
 * Distributed", VLDB 2020, section 3.2.3: 25 MiB buckets by default, filled in
 * reverse order of the parameters).  finish() sends the last bucket and waits
 * for all of them; the time spent waiting there is the all-reduce time the
 * backward did not hide ("exposed").  Gradients are then divided by the rank
 * count (the mean over ranks, as DDP).  With overlap off nothing is sent
 * during backward: finish() sends every bucket and all of it is exposed.
 * Open MPI progresses a non-blocking collective only inside MPI calls, so each
 * announcement also tests the buckets in flight.
 * What it is not: NCCL (the CUDA backend's buckets are the train suite's), or
 * gradient compression.
 */
#ifndef STRATA_KERNELS_NN_GRAD_BUCKETS_H
#define STRATA_KERNELS_NN_GRAD_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

struct strata_grad_buckets {
	MPI_Comm comm;          /* ranks that average their gradients */
	int nranks;
	int overlap;            /* send during backward */
	float *grads;           /* (n) the flat gradient array */
	size_t n;
	size_t bucket_floats;   /* send when the pending range holds this many */
	size_t lo, hi;          /* pending range [lo, hi); lo == hi: none */
	size_t *off, *cnt;      /* buckets of this step, in the order sent */
	MPI_Request *req;
	size_t nbuckets, cap;
	double first_send_s;    /* monotonic seconds of this step's first send */
	int contiguous;         /* every announcement extended the pending range downwards */
};

/* 0, or -1 (no memory / bucket_bytes < 4). */
int strata_grad_buckets_init(struct strata_grad_buckets *b, MPI_Comm comm, float *grads,
                             size_t n, size_t bucket_bytes, int overlap);
void strata_grad_buckets_release(struct strata_grad_buckets *b);

/* Start a step (forget the last step's buckets). */
void strata_grad_buckets_begin(struct strata_grad_buckets *b);
/* The backward's announcement (strata_gpt_grads_ready_fn): ctx is b. */
void strata_grad_buckets_ready(void *ctx, size_t offset, size_t count);
/* Send what is pending, wait for every bucket, divide by the rank count.
 * Returns the seconds spent from entry to the last completion (the exposed
 * all-reduce time), or -1 on an MPI error. */
double strata_grad_buckets_finish(struct strata_grad_buckets *b);

#endif
