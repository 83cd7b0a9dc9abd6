/* mpi_p2p.h: MPI point-to-point exchanges between two ranks (ping-pong,
 * streaming window, bidirectional window), the round-robin schedule that
 * pairs every rank with every other in rounds of disjoint pairs, and the byte
 * patterns messages carry so the receiver can check every byte.
 *
 * What this is: the measured code of the p2p suite, after the OSU
 * Micro-Benchmarks' point-to-point tests (mvapich.cse.ohio-state.edu/benchmarks,
 * mpi/pt2pt/osu_latency.c, osu_bw.c, osu_bibw.c, v5.x): the same exchanges
 * and the same figures (one-way latency = round trip / 2; bandwidth = bytes
 * of a window / time of the window).  What it is not: a copy of OSU, a timer
 * or a driver; the runner times, the suite decides who meets whom.  Nothing
 * here prints.
 *
 * Dimension letters used in shape comments:
 *   B  message size in bytes (msg_bytes)
 *   W  messages per exchange and direction (window)
 *   S  receive slots, 1 <= S <= W
 *
 * Exchanges, one call per endpoint; `initiator` is the lower rank of the pair:
 *   latency    initiator: W times { MPI_Send B; MPI_Recv B }   (osu_latency)
 *              responder: W times { MPI_Recv B; MPI_Send B }
 *   bandwidth  initiator: W MPI_Isend of B back to back, MPI_Waitall, then a
 *              4-byte MPI_Recv ack                             (osu_bw)
 *              responder: W MPI_Irecv of B, MPI_Waitall, 4-byte MPI_Send ack
 *   bibw       both: W MPI_Irecv of B, then W MPI_Isend of B, MPI_Waitall of
 *              all 2W                                          (osu_bibw)
 * Every send of a window reads the one send buffer (concurrent sends from one
 * buffer are allowed since MPI-3.0).  Message j of a window lands in receive
 * slot j % S.  S = W while W * B fits in STRATA_P2P_RECV_CAP_BYTES, so each
 * pending receive has its own buffer; beyond that the slots are reused, as
 * OSU does with its single receive buffer.  Every message of a window carries
 * the same bytes, so a shared slot still holds exactly one message's pattern.
 */
#ifndef STRATA_KERNELS_CPU_MPI_P2P_H
#define STRATA_KERNELS_CPU_MPI_P2P_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

/* Total bytes of receive slots before slots are shared (see above). */
#define STRATA_P2P_RECV_CAP_BYTES ((size_t)64 << 20)
/* Bytes of the bandwidth test's acknowledgement (osu_bw: a 4-byte MPI_Send). */
#define STRATA_P2P_ACK_BYTES 4
/* Alignment of the buffers: one page, as OSU aligns s_buf and r_buf. */
#define STRATA_P2P_ALIGN_BYTES 4096

/* Tags, so data, acknowledgements and the pre-round handshake never match
 * one another. */
enum strata_p2p_tag {
	STRATA_P2P_TAG_DATA = 0x5032,
	STRATA_P2P_TAG_ACK,
	STRATA_P2P_TAG_SYNC,
};

enum strata_p2p_mode {
	STRATA_P2P_LATENCY = 0, /* ping-pong */
	STRATA_P2P_BANDWIDTH,   /* one-way streaming window */
	STRATA_P2P_BIBW,        /* both ways at once */
	STRATA_P2P_NMODES,
};

/* "latency", "bandwidth", "bibw" (NULL out of range); and back (-1 if none). */
const char *strata_p2p_mode_name(enum strata_p2p_mode m);
int strata_p2p_mode_parse(const char *name);

/* ---- round-robin schedule (circle method) -----------------------------------
 * n ranks meet in rounds of disjoint pairs so that every unordered pair meets
 * exactly once.  For odd n a phantom rank n is added and whoever meets it sits
 * the round out.  Rounds: n - 1 for even n, n for odd n, 0 for n < 2. */
int strata_p2p_rounds(int n);
/* Partner of rank in round (0 <= round < rounds(n)), or -1 when rank sits
 * out that round (or the arguments are out of range). */
int strata_p2p_partner(int n, int round, int rank);

/* ---- patterns --------------------------------------------------------------
 * Byte `offset` of a message of msg_bytes sent by rank `sender`: a splitmix64
 * stream seeded by (sender, msg_bytes), one 64-bit word per 8 bytes, so a
 * message from the wrong rank, of the wrong size or shifted by any offset does
 * not match. */
uint8_t strata_p2p_pattern_byte(int sender, size_t msg_bytes, size_t offset);
/* buf (B) = the pattern of sender. */
void strata_p2p_pattern_fill(uint8_t *buf, size_t msg_bytes, int sender);
/* buf (B) = the bitwise complement of sender's pattern: every byte differs
 * from what a correct message from sender would write there. */
void strata_p2p_pattern_poison(uint8_t *buf, size_t msg_bytes, int sender);

/* One wrong byte. */
struct strata_p2p_error {
	int slot;        /* receive slot (0 for a lone buffer) */
	size_t offset;   /* byte offset in the message */
	uint8_t expected;
	uint8_t actual;
};

/* Count the bytes of buf (B) that differ from sender's pattern.  When there
 * are any and first is not NULL, *first gets the lowest wrong offset (slot 0). */
int64_t strata_p2p_pattern_check(const uint8_t *buf, size_t msg_bytes, int sender,
				 struct strata_p2p_error *first);

/* ---- figures of merit ------------------------------------------------------ */
/* One-way latency in microseconds of `round_trips` ping-pongs that took
 * `seconds`: osu_latency's (t_end - t_start) * 1e6 / (2.0 * loop). */
double strata_p2p_latency_us(double seconds, int64_t round_trips);
/* Bytes one exchange counts as moved: bandwidth B * W (osu_bw: size * window);
 * bibw 2 * B * W (osu_bibw: size * window * 2); latency 2 * B * W (each round
 * trip carries B each way). */
uint64_t strata_p2p_bytes_moved(enum strata_p2p_mode m, size_t msg_bytes, int64_t window);
/* bytes_moved / seconds / 1e9: GB/s with 1 GB = 1e9 bytes (OSU prints MB/s,
 * 1e6 bytes).  0 when seconds <= 0. */
double strata_p2p_bandwidth_gbps(enum strata_p2p_mode m, size_t msg_bytes, int64_t window,
				 double seconds);

/* ---- buffers and exchanges ------------------------------------------------- */
struct strata_p2p_bufs {
	uint8_t *send;      /* (B) the owner's pattern, read by every send */
	uint8_t *recv;      /* (S, B) receive slots */
	MPI_Request *reqs;  /* (2W) */
	uint8_t ack[STRATA_P2P_ACK_BYTES];
	size_t msg_bytes;   /* B */
	int window;         /* W */
	int slots;          /* S */
};

/* S for a mode, size and window: 1 for latency (one message in flight),
 * else min(W, max(1, STRATA_P2P_RECV_CAP_BYTES / B)). */
int strata_p2p_slots(enum strata_p2p_mode m, size_t msg_bytes, int window);

/* Allocate page-aligned buffers, fill send with owner's pattern and touch the
 * receive slots (poisoned with the complement of poison_sender's pattern, or
 * zeroed when poison_sender < 0), so no page fault lands in a timed exchange.
 * msg_bytes <= INT_MAX, window >= 1.  Returns 0 or -1 with a message. */
int strata_p2p_bufs_init(struct strata_p2p_bufs *b, enum strata_p2p_mode m, size_t msg_bytes,
			 int window, int owner, int poison_sender, char *err, size_t err_len);
/* Free; b may be partly initialised or already released. */
void strata_p2p_bufs_release(struct strata_p2p_bufs *b);

/* Whether this endpoint receives data messages in mode m (the bandwidth
 * initiator only sends and gets a 4-byte ack). */
int strata_p2p_receives(enum strata_p2p_mode m, int initiator);

/* Poison every receive slot with the complement of sender's pattern. */
void strata_p2p_slots_poison(struct strata_p2p_bufs *b, int sender);
/* Check every receive slot against sender's pattern: wrong bytes over all
 * slots; *first (if not NULL) gets the first wrong byte in slot order. */
int64_t strata_p2p_slots_check(const struct strata_p2p_bufs *b, int sender,
			       struct strata_p2p_error *first);

/* One exchange of mode m between this rank and peer on comm, this endpoint's
 * side (see the table at the top).  comm should have MPI_ERRORS_RETURN, so a
 * failure comes back as -1 with the MPI error string in err; otherwise 0. */
int strata_p2p_exchange(struct strata_p2p_bufs *b, enum strata_p2p_mode m, MPI_Comm comm,
			int peer, int initiator, char *err, size_t err_len);

/* Zero-byte MPI_Sendrecv with peer: returns once both have reached it, so a
 * timed exchange that follows does not include the time the peer spent
 * finishing its previous round.  Returns 0 or -1 with a message. */
int strata_p2p_handshake(MPI_Comm comm, int peer, char *err, size_t err_len);

#endif
