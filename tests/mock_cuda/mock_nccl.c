/* mock_nccl.c: NCCL over MPI for the host stand-in (strata_mock_cuda): the
 * communicator, all-reduce, all-gather, reduce-scatter, broadcast and grouped
 * send/receive, on "device" buffers that are host memory (mock_cuda.c).
 *
 * What it is: definitions that take the place of libnccl's, enough for the
 * train suite's gradient all-reduce (kernels/cuda/train_cuda.c) and the
 * collective suites (kernels/cuda/nccl_coll.c, suites/coll_gpu.c).  A
 * communicator has 1 rank (MPI_COMM_SELF) or every rank of the run
 * (MPI_COMM_WORLD, ordered by the NCCL rank): what `ranks: 1`, `ranks: 0`
 * and the collective suites (always every rank) create.  As NCCL, creating
 * one fails when two of its ranks on a host use the same device.  Each call
 * runs at once, synchronously (the stream is ignored).  Sums are taken as
 * NCCL takes them for each type: float and double in their own precision,
 * half and bfloat16 added in float and rounded back to the type after every
 * addition (NCCL's __hadd / float-then-round), so a check that assumed more
 * precision than the type has would fail here too.  The order is rank 0, 1,
 * ... (a ring or tree sums in another order; the pattern the suite uses is
 * exact in any order).  Send buffers are read before any output is written,
 * and buffers that overlap without being in NCCL's in-place position are
 * refused (ncclInvalidArgument), as they are undefined in NCCL.
 * A grouped ncclSend/ncclRecv (ncclGroupStart .. ncclGroupEnd) is buffered
 * and delivered at ncclGroupEnd with MPI_Isend/MPI_Irecv.
 *   MOCK_NCCL_CORRUPT=1  every collective of more than one rank writes one
 *                        wrong output element on its last rank (broadcast:
 *                        the last that is not the root): element 0, one unit
 *                        off (sums) or its lowest bit flipped (copies); a
 *                        fault the suites must catch.
 * NCCL_* variables are not modelled, but a call on a communicator created
 * under other NCCL_* values than those now in effect is refused
 * (ncclInvalidUsage): a variant would be measuring another's settings.
 * What it is not: a model of NCCL's algorithms, protocols, channels or speed.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include "kernels/gpu/gemm_gpu.h" /* strata_half_to_double, strata_bf16_to_double */

struct ncclComm {
	MPI_Comm mpi;
	int rank, nranks;
	int device;     /* current at ncclCommInitRank */
	char env[1024]; /* the NCCL_* variables then, sorted */
};

extern char **environ;

static char last_error[256];

static ncclResult_t fail(ncclResult_t r, const char *what)
{
	snprintf(last_error, sizeof(last_error), "mock NCCL: %s", what);
	return r;
}

/* ---- element types ----------------------------------------------------------- */

uint16_t mock_nccl_bf16_from_float(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN (quiet) */
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
	return (uint16_t)(u >> 16);
}

uint16_t mock_nccl_half_from_float(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
	uint32_t ax = x & 0x7fffffffu;
	if (ax >= 0x7f800000u) /* inf, NaN */
		return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00);
	if (ax >= 0x477ff000u) /* >= 65520: rounds to infinity */
		return sign | 0x7c00;
	if (ax < 0x38800000u) { /* below 2^-14: a subnormal half, units of 2^-24 */
		float a;
		memcpy(&a, &ax, 4);
		float units = a * 16777216.0f; /* exact: a power of two */
		uint32_t q = (uint32_t)units;
		float rest = units - (float)q;
		if (rest > 0.5f || (rest == 0.5f && (q & 1)))
			q++;
		return sign | (uint16_t)q;
	}
	uint32_t h = (((ax >> 23) - 112) << 10) | ((ax & 0x7fffffu) >> 13); /* rebias 127 -> 15 */
	uint32_t rest = ax & 0x1fffu;
	if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
		h++; /* a carry into the exponent is right, up to infinity */
	return sign | (uint16_t)h;
}

static size_t type_bytes(ncclDataType_t t)
{
	switch (t) {
	case ncclInt8: case ncclUint8: return 1;
	case ncclFloat16: case ncclBfloat16: return 2;
	case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
	case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
	default: return 0;
	}
}

/* acc[i] += x[i] for `count` elements of type t, rounded as NCCL rounds. */
static ncclResult_t add_into(void *acc, const void *x, size_t count, ncclDataType_t t)
{
	for (size_t i = 0; i < count; i++) {
		switch (t) {
		case ncclFloat32: ((float *)acc)[i] += ((const float *)x)[i]; break;
		case ncclFloat64: ((double *)acc)[i] += ((const double *)x)[i]; break;
		case ncclFloat16: {
			uint16_t *a = (uint16_t *)acc + i;
			float s = (float)strata_half_to_double(*a) +
				  (float)strata_half_to_double(((const uint16_t *)x)[i]);
			*a = mock_nccl_half_from_float(s);
			break;
		}
		case ncclBfloat16: {
			uint16_t *a = (uint16_t *)acc + i;
			float s = (float)strata_bf16_to_double(*a) +
				  (float)strata_bf16_to_double(((const uint16_t *)x)[i]);
			*a = mock_nccl_bf16_from_float(s);
			break;
		}
		default:
			return fail(ncclInvalidArgument,
				    "the mock sums float, double, half and bfloat16 only");
		}
	}
	return ncclSuccess;
}

/* ---- the fault -------------------------------------------------------------- */

static int corrupt_here(const ncclComm_t comm, size_t count, int victim)
{
	const char *env = getenv("MOCK_NCCL_CORRUPT");
	return env && atoi(env) == 1 && comm->nranks > 1 && comm->rank == victim && count > 0;
}

/* Reductions: element 0 one unit off (up, or down where up rounds back). */
static void corrupt(const ncclComm_t comm, void *out, size_t count, ncclDataType_t t, int victim)
{
	if (!corrupt_here(comm, count, victim))
		return;
	uint16_t *h = out, was = t == ncclFloat16 || t == ncclBfloat16 ? *h : 0;
	switch (t) {
	case ncclFloat32: {
		float *f = out;
		*f = *f + 1.0f != *f ? *f + 1.0f : *f - 1.0f;
		break;
	}
	case ncclFloat64: {
		double *d = out;
		*d = *d + 1.0 != *d ? *d + 1.0 : *d - 1.0;
		break;
	}
	case ncclFloat16:
		*h = mock_nccl_half_from_float((float)strata_half_to_double(was) + 1.0f);
		if (*h == was)
			*h = mock_nccl_half_from_float((float)strata_half_to_double(was) - 1.0f);
		break;
	case ncclBfloat16:
		*h = mock_nccl_bf16_from_float((float)strata_bf16_to_double(was) + 1.0f);
		if (*h == was)
			*h = mock_nccl_bf16_from_float((float)strata_bf16_to_double(was) - 1.0f);
		break;
	default: *(unsigned char *)out ^= 1; break;
	}
}

/* Copies: the lowest bit of element 0 flipped (a value + 1 could land on the
 * pattern's own bits where they are a NaN or an infinity). */
static void corrupt_bits(const ncclComm_t comm, void *out, size_t count, int victim)
{
	if (corrupt_here(comm, count, victim))
		*(unsigned char *)out ^= 1;
}

/* ---- communicators ---------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "NAME=value;..." of every NCCL_* variable, sorted (truncated at out_len). */
static void nccl_env(char *out, size_t out_len)
{
	const char *v[256];
	size_t n = 0, off = 0;
	for (char **e = environ; e && *e && n < 256; e++)
		if (strncmp(*e, "NCCL_", 5) == 0)
			v[n++] = *e;
	qsort(v, n, sizeof(v[0]), by_name);
	out[0] = '\0';
	for (size_t i = 0; i < n && off < out_len; i++)
		off += (size_t)snprintf(out + off, out_len - off, "%s;", v[i]);
}

/* NCCL reads NCCL_ALGO, NCCL_PROTO and the like when a communicator is
 * created; a suite that measures a variant's NCCL settings must call on a
 * communicator made under them.  NCCL cannot tell; the mock refuses. */
static ncclResult_t same_env(const ncclComm_t comm)
{
	char now[sizeof(comm->env)];
	nccl_env(now, sizeof(now));
	if (strcmp(now, comm->env) == 0)
		return ncclSuccess;
	snprintf(last_error, sizeof(last_error),
		 "mock NCCL: communicator made under NCCL_* \"%.90s\" used under \"%.90s\"",
		 comm->env, now);
	return ncclInvalidUsage;
}

ncclResult_t ncclGetVersion(int *version)
{
	*version = NCCL_VERSION_CODE;
	return ncclSuccess;
}
const char *ncclGetErrorString(ncclResult_t r)
{
	switch (r) {
	case ncclSuccess: return "no error";
	case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
	case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
	case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
	default: return "mock NCCL error";
	}
}
const char *ncclGetLastError(ncclComm_t comm)
{
	(void)comm;
	return last_error;
}
ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
	static int serial;
	memset(id, 0, sizeof(*id));
	snprintf(id->internal, sizeof(id->internal), "mock-nccl-%d", ++serial);
	return ncclSuccess;
}

/* NCCL's init fails with "Duplicate GPU detected" when two ranks of a
 * communicator share a device on one host, which NCCL tells by PCI bus id
 * (not by CUDA ordinal: each rank may see only its own GPU as device 0).
 * Collective over c->mpi. */
static int duplicate_gpu(const struct ncclComm *c)
{
	struct {
		char host[MPI_MAX_PROCESSOR_NAME];
		char bus[32];
	} mine, *all = calloc((size_t)c->nranks, sizeof(*all));
	int len = 0, dup = 0;
	memset(&mine, 0, sizeof(mine));
	MPI_Get_processor_name(mine.host, &len);
	cudaDeviceGetPCIBusId(mine.bus, (int)sizeof(mine.bus), c->device);
	if (!all)
		return 0;
	MPI_Allgather(&mine, (int)sizeof(mine), MPI_BYTE, all, (int)sizeof(mine), MPI_BYTE, c->mpi);
	for (int r = 0; r < c->nranks; r++)
		if (r != c->rank && !strcmp(all[r].bus, mine.bus) && !strcmp(all[r].host, mine.host))
			dup = 1;
	free(all);
	return dup;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
	(void)id;
	int world = 0;
	MPI_Comm_size(MPI_COMM_WORLD, &world);
	*comm = NULL;
	if (nranks != 1 && nranks != world) {
		snprintf(last_error, sizeof(last_error),
			 "the mock makes communicators of 1 rank or of all %d, not %d", world, nranks);
		return ncclInvalidUsage;
	}
	if (rank < 0 || rank >= nranks)
		return fail(ncclInvalidArgument, "rank out of range");
	struct ncclComm *c = calloc(1, sizeof(*c));
	if (!c)
		return ncclSystemError;
	c->rank = rank;
	c->nranks = nranks;
	cudaGetDevice(&c->device);
	nccl_env(c->env, sizeof(c->env));
	if (nranks == 1)
		MPI_Comm_dup(MPI_COMM_SELF, &c->mpi);
	else
		MPI_Comm_split(MPI_COMM_WORLD, 0, rank, &c->mpi);
	int dup = duplicate_gpu(c), any = 0;
	MPI_Allreduce(&dup, &any, 1, MPI_INT, MPI_MAX, c->mpi);
	if (any) {
		snprintf(last_error, sizeof(last_error),
			 "Duplicate GPU detected: two ranks of the communicator use one GPU "
			 "(CUDA device %d here) on one host", c->device);
		MPI_Comm_free(&c->mpi);
		free(c);
		return ncclInvalidUsage;
	}
	*comm = c;
	return ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
	if (comm) {
		MPI_Comm_free(&comm->mpi);
		free(comm);
	}
	return ncclSuccess;
}
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async)
{
	(void)comm;
	*async = ncclSuccess;
	return ncclSuccess;
}

/* ---- collectives ------------------------------------------------------------ */

/* Bytes of count elements, as an int for MPI; 0 with last_error when not. */
static int mpi_bytes(size_t count, ncclDataType_t t, size_t *bytes)
{
	size_t e = type_bytes(t);
	if (!e)
		return fail(ncclInvalidArgument, "unknown data type"), 0;
	if (count > (size_t)INT_MAX / e)
		return fail(ncclInvalidArgument, "more than INT_MAX bytes in one call"), 0;
	*bytes = count * e;
	return 1;
}

static int overlap(const void *a, size_t a_len, const void *b, size_t b_len)
{
	const char *x = a, *y = b;
	return a_len && b_len && x < y + b_len && y < x + a_len;
}

static ncclResult_t mpi_rc(int rc)
{
	if (rc == MPI_SUCCESS)
		return ncclSuccess;
	char msg[MPI_MAX_ERROR_STRING] = "";
	int len = 0;
	MPI_Error_string(rc, msg, &len);
	snprintf(last_error, sizeof(last_error), "mock NCCL: MPI: %.200s", msg);
	return ncclSystemError;
}

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type,
			   ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
	(void)stream;
	size_t b = 0;
	if (same_env(comm) != ncclSuccess)
		return ncclInvalidUsage;
	if (op != ncclSum)
		return fail(ncclInvalidArgument, "the mock all-reduces sums only");
	if (!mpi_bytes(count, type, &b))
		return ncclInvalidArgument;
	if (send != recv && overlap(send, b, recv, b))
		return fail(ncclInvalidArgument, "all-reduce buffers overlap but are not in place");
	/* Every rank's input, then the sum in rank order at the type's precision. */
	char *all = malloc(b * (size_t)comm->nranks + 1);
	if (!all)
		return ncclSystemError;
	ncclResult_t r = mpi_rc(MPI_Allgather(send, (int)b, MPI_BYTE, all, (int)b, MPI_BYTE, comm->mpi));
	if (r == ncclSuccess) {
		memcpy(recv, all, b);
		for (int k = 1; k < comm->nranks && r == ncclSuccess; k++)
			r = add_into(recv, all + (size_t)k * b, count, type);
	}
	free(all);
	if (r == ncclSuccess)
		corrupt(comm, recv, count, type, comm->nranks - 1);
	return r;
}

ncclResult_t ncclReduceScatter(const void *send, void *recv, size_t count, ncclDataType_t type,
			       ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
	(void)stream;
	size_t b = 0;
	if (same_env(comm) != ncclSuccess)
		return ncclInvalidUsage;
	if (op != ncclSum)
		return fail(ncclInvalidArgument, "the mock reduce-scatters sums only");
	if (!mpi_bytes(count, type, &b) || b > (size_t)INT_MAX / (size_t)comm->nranks)
		return fail(ncclInvalidArgument, "more than INT_MAX bytes in one call");
	const size_t n = (size_t)comm->nranks;
	/* In place (nccl.h): recvbuff == sendbuff + rank * recvcount. */
	if ((const char *)send + (size_t)comm->rank * b != (const char *)recv &&
	    overlap(send, b * n, recv, b))
		return fail(ncclInvalidArgument,
			    "reduce-scatter buffers overlap but recvbuff is not sendbuff + rank*count");
	/* Block k of every rank's input to rank k, then the sum in rank order. */
	char *blocks = malloc(b * n + 1);
	if (!blocks)
		return ncclSystemError;
	ncclResult_t r = mpi_rc(MPI_Alltoall(send, (int)b, MPI_BYTE, blocks, (int)b, MPI_BYTE, comm->mpi));
	if (r == ncclSuccess) {
		memcpy(recv, blocks, b);
		for (size_t k = 1; k < n && r == ncclSuccess; k++)
			r = add_into(recv, blocks + k * b, count, type);
	}
	free(blocks);
	if (r == ncclSuccess)
		corrupt(comm, recv, count, type, comm->nranks - 1);
	return r;
}

ncclResult_t ncclAllGather(const void *send, void *recv, size_t count, ncclDataType_t type,
			   ncclComm_t comm, cudaStream_t stream)
{
	(void)stream;
	size_t b = 0;
	if (same_env(comm) != ncclSuccess)
		return ncclInvalidUsage;
	if (!mpi_bytes(count, type, &b) || b > (size_t)INT_MAX / (size_t)comm->nranks)
		return fail(ncclInvalidArgument, "more than INT_MAX bytes in one call");
	/* In place (nccl.h): sendbuff == recvbuff + rank * sendcount. */
	char *own = (char *)recv + (size_t)comm->rank * b;
	int inplace = (const char *)send == own;
	if (!inplace && overlap(send, b, recv, b * (size_t)comm->nranks))
		return fail(ncclInvalidArgument,
			    "all-gather buffers overlap but sendbuff is not recvbuff + rank*count");
	ncclResult_t r = mpi_rc(MPI_Allgather(inplace ? MPI_IN_PLACE : send, (int)b, MPI_BYTE, recv,
					      (int)b, MPI_BYTE, comm->mpi));
	if (r == ncclSuccess) /* element 0 lies in rank 0's block, never the victim's own */
		corrupt_bits(comm, recv, count, comm->nranks - 1);
	return r;
}

ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, ncclDataType_t type,
			   int root, ncclComm_t comm, cudaStream_t stream)
{
	(void)stream;
	size_t b = 0;
	if (same_env(comm) != ncclSuccess)
		return ncclInvalidUsage;
	if (root < 0 || root >= comm->nranks)
		return fail(ncclInvalidArgument, "root is not a rank of the communicator");
	if (!mpi_bytes(count, type, &b))
		return ncclInvalidArgument;
	if (comm->rank == root && send != recv) {
		if (overlap(send, b, recv, b))
			return fail(ncclInvalidArgument, "broadcast buffers overlap but are not in place");
		memcpy(recv, send, b);
	}
	ncclResult_t r = mpi_rc(MPI_Bcast(recv, (int)b, MPI_BYTE, root, comm->mpi));
	int victim = root == comm->nranks - 1 ? comm->nranks - 2 : comm->nranks - 1;
	if (r == ncclSuccess) /* never the root: its buffer is the next call's input */
		corrupt_bits(comm, recv, count, victim);
	return r;
}

/* ---- groups of point-to-point calls ----------------------------------------- */

struct p2p {
	int is_send;
	void *buf; /* send: a copy taken at ncclGroupEnd; recv: the user's buffer */
	const void *user;
	size_t bytes;
	int peer;
	ncclComm_t comm;
};

static int group_depth;
static struct p2p *pending;
static size_t n_pending, cap_pending;

static ncclResult_t deliver(void)
{
	ncclResult_t r = ncclSuccess;
	MPI_Request *req = calloc(n_pending + 1, sizeof(*req));
	if (!req)
		return ncclSystemError;
	/* Every send buffer is read before any receive is written, as the
	 * group's sends and receives run concurrently in NCCL. */
	for (size_t i = 0; i < n_pending && r == ncclSuccess; i++)
		if (pending[i].is_send) {
			pending[i].buf = malloc(pending[i].bytes + 1);
			if (!pending[i].buf)
				r = ncclSystemError;
			else
				memcpy(pending[i].buf, pending[i].user, pending[i].bytes);
		}
	size_t n_req = 0;
	for (size_t i = 0; i < n_pending && r == ncclSuccess; i++) {
		struct p2p *p = &pending[i];
		int rc = p->is_send ? MPI_Isend(p->buf, (int)p->bytes, MPI_BYTE, p->peer, 0,
					       p->comm->mpi, &req[n_req])
				    : MPI_Irecv(p->buf, (int)p->bytes, MPI_BYTE, p->peer, 0,
					       p->comm->mpi, &req[n_req]);
		r = mpi_rc(rc);
		if (r == ncclSuccess)
			n_req++;
	}
	if (n_req) { /* even after a failed post: nothing may stay in flight */
		ncclResult_t w = mpi_rc(MPI_Waitall((int)n_req, req, MPI_STATUSES_IGNORE));
		r = r == ncclSuccess ? w : r;
	}
	int corrupted = 0;
	for (size_t i = 0; i < n_pending; i++) {
		struct p2p *p = &pending[i];
		if (p->is_send)
			free(p->buf);
		else if (r == ncclSuccess && !corrupted && p->bytes) {
			corrupt_bits(p->comm, p->buf, p->bytes, p->comm->nranks - 1);
			corrupted = 1;
		}
	}
	free(req);
	n_pending = 0;
	return r;
}

static ncclResult_t enqueue_p2p(int is_send, const void *buf, size_t count, ncclDataType_t type,
				int peer, ncclComm_t comm)
{
	size_t b = 0;
	if (same_env(comm) != ncclSuccess)
		return ncclInvalidUsage;
	if (peer < 0 || peer >= comm->nranks)
		return fail(ncclInvalidArgument, "peer is not a rank of the communicator");
	if (!mpi_bytes(count, type, &b))
		return ncclInvalidArgument;
	if (n_pending == cap_pending) {
		size_t cap = cap_pending ? 2 * cap_pending : 16;
		struct p2p *p = realloc(pending, cap * sizeof(*p));
		if (!p)
			return ncclSystemError;
		pending = p;
		cap_pending = cap;
	}
	pending[n_pending++] = (struct p2p){ .is_send = is_send, .buf = is_send ? NULL : (void *)buf,
					     .user = buf, .bytes = b, .peer = peer, .comm = comm };
	/* Outside a group, a call is a group of one. */
	return group_depth ? ncclSuccess : deliver();
}

ncclResult_t ncclGroupStart(void)
{
	group_depth++;
	return ncclSuccess;
}
ncclResult_t ncclGroupEnd(void)
{
	if (group_depth <= 0)
		return fail(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
	return --group_depth ? ncclSuccess : deliver();
}
ncclResult_t ncclSend(const void *buf, size_t count, ncclDataType_t type, int peer,
		      ncclComm_t comm, cudaStream_t stream)
{
	(void)stream;
	return enqueue_p2p(1, buf, count, type, peer, comm);
}
ncclResult_t ncclRecv(void *buf, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
		      cudaStream_t stream)
{
	(void)stream;
	return enqueue_p2p(0, buf, count, type, peer, comm);
}
