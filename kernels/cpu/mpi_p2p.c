/* mpi_p2p.c: point-to-point exchanges, the round-robin schedule and message
 * patterns of the p2p suite.  See mpi_p2p.h for what each exchange is and
 * which OSU test it follows.  This file neither times nor prints. */
#include "kernels/cpu/mpi_p2p.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Record an MPI failure (file:line, the call, MPI's own text) and return -1. */
#define P2P_MPI_CHECK(call, err, err_len)                                                  \
	do {                                                                               \
		int rc_ = (call);                                                          \
		if (rc_ != MPI_SUCCESS) {                                                  \
			char msg_[MPI_MAX_ERROR_STRING];                                   \
			int len_ = 0;                                                      \
			if (MPI_Error_string(rc_, msg_, &len_) != MPI_SUCCESS)             \
				snprintf(msg_, sizeof(msg_), "MPI error %d", rc_);         \
			snprintf((err), (err_len), "%s:%d: %s failed: %s", __FILE__,       \
				 __LINE__, #call, msg_);                                   \
			return -1;                                                         \
		}                                                                          \
	} while (0)

static const char *const mode_names[STRATA_P2P_NMODES] = { "latency", "bandwidth", "bibw" };

const char *strata_p2p_mode_name(enum strata_p2p_mode m)
{
	return (unsigned)m < STRATA_P2P_NMODES ? mode_names[m] : NULL;
}

int strata_p2p_mode_parse(const char *name)
{
	for (int i = 0; i < STRATA_P2P_NMODES; i++)
		if (strcmp(name, mode_names[i]) == 0)
			return i;
	return -1;
}

/* ---- round-robin schedule ---------------------------------------------------
 * The circle method of round-robin tournaments (E. Lucas, Recreations
 * mathematiques II, 1883; en.wikipedia.org/wiki/Round-robin_tournament, "Circle
 * method"): with m = n rounded up to even, player m - 1 stays put and the other
 * m - 1 sit on a circle that turns one seat per round.  In round r player m - 1
 * meets r, and every other x meets the p with x + p = 2r (mod m - 1): the pairs
 * (r + k, r - k), k = 1 .. m/2 - 1, mirror each other across r.  m - 1 is odd,
 * so p = x only for x = r, and each unordered pair {x, p} has one r with
 * 2r = x + p (mod m - 1): it meets exactly once.  For odd n, player m - 1 = n
 * is a phantom and whoever meets it sits out. */
int strata_p2p_rounds(int n)
{
	if (n < 2)
		return 0;
	return n % 2 == 0 ? n - 1 : n;
}

int strata_p2p_partner(int n, int round, int rank)
{
	int rounds = strata_p2p_rounds(n);
	if (rounds == 0 || round < 0 || round >= rounds || rank < 0 || rank >= n)
		return -1;
	int m = n + (n % 2);   /* players, phantom included */
	int fixed = m - 1;     /* the player who never moves */
	int circle = m - 1;    /* seats on the circle (odd) */
	int partner;
	if (rank == fixed)
		partner = round;
	else if (rank == round)
		partner = fixed;
	else
		partner = (int)((2 * (int64_t)round - rank + 2 * (int64_t)circle) % circle);
	return partner < n ? partner : -1;
}

/* ---- patterns -----------------------------------------------------------------
 * splitmix64 (G. Steele, D. Lea, C. Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014; constants of S. Vigna's splitmix64.c). */
static uint64_t splitmix64_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

#define P2P_GOLDEN_GAMMA 0x9E3779B97F4A7C15ULL

static uint64_t pattern_seed(int sender, size_t msg_bytes)
{
	return splitmix64_mix(((uint64_t)(uint32_t)sender << 32) ^ (uint64_t)msg_bytes ^
			      0x70327032ULL);
}

/* Word w of the stream: the (w + 1)-th output of splitmix64 from seed. */
static uint64_t pattern_word(uint64_t seed, size_t w)
{
	return splitmix64_mix(seed + ((uint64_t)w + 1) * P2P_GOLDEN_GAMMA);
}

uint8_t strata_p2p_pattern_byte(int sender, size_t msg_bytes, size_t offset)
{
	uint64_t word = pattern_word(pattern_seed(sender, msg_bytes), offset / 8);
	return (uint8_t)(word >> (8 * (offset % 8)));
}

/* buf = pattern ^ flip, 8 bytes per splitmix64 word, little-end byte first
 * whatever the host's byte order. */
static void pattern_write(uint8_t *buf, size_t msg_bytes, int sender, uint8_t flip)
{
	uint64_t seed = pattern_seed(sender, msg_bytes);
	for (size_t w = 0; w * 8 < msg_bytes; w++) {
		uint64_t word = pattern_word(seed, w);
		size_t end = msg_bytes - w * 8 < 8 ? msg_bytes - w * 8 : 8;
		for (size_t k = 0; k < end; k++)
			buf[w * 8 + k] = (uint8_t)(word >> (8 * k)) ^ flip;
	}
}

void strata_p2p_pattern_fill(uint8_t *buf, size_t msg_bytes, int sender)
{
	pattern_write(buf, msg_bytes, sender, 0x00);
}

void strata_p2p_pattern_poison(uint8_t *buf, size_t msg_bytes, int sender)
{
	pattern_write(buf, msg_bytes, sender, 0xFF);
}

int64_t strata_p2p_pattern_check(const uint8_t *buf, size_t msg_bytes, int sender,
				 struct strata_p2p_error *first)
{
	uint64_t seed = pattern_seed(sender, msg_bytes);
	int64_t wrong = 0;
	for (size_t w = 0; w * 8 < msg_bytes; w++) {
		uint64_t word = pattern_word(seed, w);
		size_t end = msg_bytes - w * 8 < 8 ? msg_bytes - w * 8 : 8;
		for (size_t k = 0; k < end; k++) {
			uint8_t want = (uint8_t)(word >> (8 * k));
			uint8_t got = buf[w * 8 + k];
			if (got == want)
				continue;
			if (wrong == 0 && first)
				*first = (struct strata_p2p_error){ .slot = 0, .offset = w * 8 + k,
								    .expected = want, .actual = got };
			wrong++;
		}
	}
	return wrong;
}

/* ---- figures of merit ------------------------------------------------------ */
double strata_p2p_latency_us(double seconds, int64_t round_trips)
{
	if (round_trips <= 0)
		return 0;
	/* osu_latency.c: latency = (t_end - t_start) * 1e6 / (2.0 * loop). */
	return seconds * 1e6 / (2.0 * (double)round_trips);
}

uint64_t strata_p2p_bytes_moved(enum strata_p2p_mode m, size_t msg_bytes, int64_t window)
{
	if (window <= 0)
		return 0;
	uint64_t one_way = (uint64_t)msg_bytes * (uint64_t)window;
	switch (m) {
	case STRATA_P2P_BANDWIDTH:
		return one_way;         /* osu_bw.c: size * loop * window_size / t */
	case STRATA_P2P_BIBW:
	case STRATA_P2P_LATENCY:
		return 2 * one_way;     /* osu_bibw.c: size * loop * window_size * 2 / t */
	case STRATA_P2P_NMODES:
		break;
	}
	return 0;
}

double strata_p2p_bandwidth_gbps(enum strata_p2p_mode m, size_t msg_bytes, int64_t window,
				 double seconds)
{
	if (seconds <= 0)
		return 0;
	return (double)strata_p2p_bytes_moved(m, msg_bytes, window) / seconds / 1e9;
}

/* ---- buffers ---------------------------------------------------------------- */
int strata_p2p_slots(enum strata_p2p_mode m, size_t msg_bytes, int window)
{
	if (m == STRATA_P2P_LATENCY || window < 1)
		return 1;
	if (msg_bytes == 0)
		return window;
	size_t fit = STRATA_P2P_RECV_CAP_BYTES / msg_bytes;
	if (fit < 1)
		fit = 1;
	return fit < (size_t)window ? (int)fit : window;
}

static void *alloc_aligned(size_t bytes)
{
	void *p = NULL;
	/* posix_memalign wants a size that is not 0 on some libcs. */
	if (posix_memalign(&p, STRATA_P2P_ALIGN_BYTES, bytes ? bytes : 1) != 0)
		return NULL;
	return p;
}

int strata_p2p_bufs_init(struct strata_p2p_bufs *b, enum strata_p2p_mode m, size_t msg_bytes,
			 int window, int owner, int poison_sender, char *err, size_t err_len)
{
	memset(b, 0, sizeof(*b));
	if ((unsigned)m >= STRATA_P2P_NMODES || window < 1 || msg_bytes > (size_t)INT_MAX) {
		snprintf(err, err_len,
			 "p2p buffers: bad arguments (mode %d, msg_bytes %zu <= %d, window %d >= 1)",
			 (int)m, msg_bytes, INT_MAX, window);
		return -1;
	}
	b->msg_bytes = msg_bytes;
	b->window = window;
	b->slots = strata_p2p_slots(m, msg_bytes, window);
	b->send = alloc_aligned(msg_bytes);
	b->recv = alloc_aligned((size_t)b->slots * msg_bytes);
	b->reqs = calloc(2 * (size_t)window, sizeof(*b->reqs));
	if (!b->send || !b->recv || !b->reqs) {
		snprintf(err, err_len, "p2p buffers: out of memory (%zu + %d x %zu bytes)",
			 msg_bytes, b->slots, msg_bytes);
		strata_p2p_bufs_release(b);
		return -1;
	}
	strata_p2p_pattern_fill(b->send, msg_bytes, owner);
	if (poison_sender >= 0)
		strata_p2p_slots_poison(b, poison_sender);
	else
		memset(b->recv, 0, (size_t)b->slots * msg_bytes);
	return 0;
}

void strata_p2p_bufs_release(struct strata_p2p_bufs *b)
{
	free(b->send);
	free(b->recv);
	free(b->reqs);
	b->send = NULL;
	b->recv = NULL;
	b->reqs = NULL;
}

int strata_p2p_receives(enum strata_p2p_mode m, int initiator)
{
	return m != STRATA_P2P_BANDWIDTH || !initiator;
}

static uint8_t *slot_at(const struct strata_p2p_bufs *b, int slot)
{
	return b->recv + (size_t)slot * b->msg_bytes;
}

void strata_p2p_slots_poison(struct strata_p2p_bufs *b, int sender)
{
	for (int s = 0; s < b->slots; s++)
		strata_p2p_pattern_poison(slot_at(b, s), b->msg_bytes, sender);
}

int64_t strata_p2p_slots_check(const struct strata_p2p_bufs *b, int sender,
			       struct strata_p2p_error *first)
{
	int64_t wrong = 0;
	for (int s = 0; s < b->slots; s++) {
		struct strata_p2p_error e;
		int64_t n = strata_p2p_pattern_check(slot_at(b, s), b->msg_bytes, sender, &e);
		if (n > 0 && wrong == 0 && first) {
			*first = e;
			first->slot = s;
		}
		wrong += n;
	}
	return wrong;
}

/* ---- exchanges -------------------------------------------------------------- */
/* osu_latency: the initiator sends and waits for the echo, W times. */
static int exchange_latency(struct strata_p2p_bufs *b, MPI_Comm comm, int peer, int initiator,
			    char *err, size_t err_len)
{
	int count = (int)b->msg_bytes;
	for (int i = 0; i < b->window; i++) {
		if (initiator) {
			P2P_MPI_CHECK(MPI_Send(b->send, count, MPI_BYTE, peer, STRATA_P2P_TAG_DATA,
					       comm), err, err_len);
			P2P_MPI_CHECK(MPI_Recv(b->recv, count, MPI_BYTE, peer, STRATA_P2P_TAG_DATA,
					       comm, MPI_STATUS_IGNORE), err, err_len);
		} else {
			P2P_MPI_CHECK(MPI_Recv(b->recv, count, MPI_BYTE, peer, STRATA_P2P_TAG_DATA,
					       comm, MPI_STATUS_IGNORE), err, err_len);
			P2P_MPI_CHECK(MPI_Send(b->send, count, MPI_BYTE, peer, STRATA_P2P_TAG_DATA,
					       comm), err, err_len);
		}
	}
	return 0;
}

/* Post W receives of B bytes from peer into the slots, requests reqs[0, W). */
static int post_window_recvs(struct strata_p2p_bufs *b, MPI_Comm comm, int peer,
			     MPI_Request *reqs, char *err, size_t err_len)
{
	int count = (int)b->msg_bytes;
	for (int j = 0; j < b->window; j++)
		P2P_MPI_CHECK(MPI_Irecv(slot_at(b, j % b->slots), count, MPI_BYTE, peer,
					STRATA_P2P_TAG_DATA, comm, &reqs[j]), err, err_len);
	return 0;
}

/* Post W sends of the send buffer to peer, requests reqs[0, W). */
static int post_window_sends(struct strata_p2p_bufs *b, MPI_Comm comm, int peer,
			     MPI_Request *reqs, char *err, size_t err_len)
{
	int count = (int)b->msg_bytes;
	for (int j = 0; j < b->window; j++)
		P2P_MPI_CHECK(MPI_Isend(b->send, count, MPI_BYTE, peer, STRATA_P2P_TAG_DATA, comm,
					&reqs[j]), err, err_len);
	return 0;
}

/* osu_bw: a window of sends back to back, then a short ack from the
 * receiver, so the time covers the last byte's arrival. */
static int exchange_bandwidth(struct strata_p2p_bufs *b, MPI_Comm comm, int peer,
			      int initiator, char *err, size_t err_len)
{
	if (initiator) {
		if (post_window_sends(b, comm, peer, b->reqs, err, err_len) != 0)
			return -1;
		P2P_MPI_CHECK(MPI_Waitall(b->window, b->reqs, MPI_STATUSES_IGNORE), err, err_len);
		P2P_MPI_CHECK(MPI_Recv(b->ack, STRATA_P2P_ACK_BYTES, MPI_BYTE, peer,
				       STRATA_P2P_TAG_ACK, comm, MPI_STATUS_IGNORE), err, err_len);
	} else {
		if (post_window_recvs(b, comm, peer, b->reqs, err, err_len) != 0)
			return -1;
		P2P_MPI_CHECK(MPI_Waitall(b->window, b->reqs, MPI_STATUSES_IGNORE), err, err_len);
		P2P_MPI_CHECK(MPI_Send(b->ack, STRATA_P2P_ACK_BYTES, MPI_BYTE, peer,
				       STRATA_P2P_TAG_ACK, comm), err, err_len);
	}
	return 0;
}

/* osu_bibw: both sides post a window of receives, then a window of sends. */
static int exchange_bibw(struct strata_p2p_bufs *b, MPI_Comm comm, int peer, char *err,
			 size_t err_len)
{
	if (post_window_recvs(b, comm, peer, b->reqs, err, err_len) != 0)
		return -1;
	if (post_window_sends(b, comm, peer, b->reqs + b->window, err, err_len) != 0)
		return -1;
	P2P_MPI_CHECK(MPI_Waitall(2 * b->window, b->reqs, MPI_STATUSES_IGNORE), err, err_len);
	return 0;
}

int strata_p2p_exchange(struct strata_p2p_bufs *b, enum strata_p2p_mode m, MPI_Comm comm,
			int peer, int initiator, char *err, size_t err_len)
{
	switch (m) {
	case STRATA_P2P_LATENCY:
		return exchange_latency(b, comm, peer, initiator, err, err_len);
	case STRATA_P2P_BANDWIDTH:
		return exchange_bandwidth(b, comm, peer, initiator, err, err_len);
	case STRATA_P2P_BIBW:
		return exchange_bibw(b, comm, peer, err, err_len);
	case STRATA_P2P_NMODES:
		break;
	}
	snprintf(err, err_len, "p2p: unknown mode %d", (int)m);
	return -1;
}

int strata_p2p_handshake(MPI_Comm comm, int peer, char *err, size_t err_len)
{
	P2P_MPI_CHECK(MPI_Sendrecv(NULL, 0, MPI_BYTE, peer, STRATA_P2P_TAG_SYNC, NULL, 0, MPI_BYTE,
				   peer, STRATA_P2P_TAG_SYNC, comm, MPI_STATUS_IGNORE),
		      err, err_len);
	return 0;
}
