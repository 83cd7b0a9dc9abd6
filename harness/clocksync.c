/* clocksync.c: every rank's CLOCK_MONOTONIC offset from rank 0's, estimated
 * by ping-pong over MPI (see strata_clocksync_measure in trace.h).
 *
 * Method (F. Cristian, "Probabilistic clock synchronization", Distributed
 * Computing 3(3), 1989; NTP's on-wire calculation, RFC 5905 section 8): rank r
 * stamps T1 and sends to rank 0; rank 0 stamps T2 on receipt and replies at
 * once with T2 (so T3 = T2); rank r stamps T4 on receipt.  Then
 *   offset = T2 - (T1 + T4) / 2     (rank 0's clock minus rank r's)
 *   rtt    = T4 - T1
 * and the true offset lies within +- rtt / 2 of the estimate.  Of `rounds`
 * exchanges the one with the shortest round trip is kept (NTP's clock filter
 * keeps the minimum-delay sample for the same reason: queueing only ever adds
 * delay, and asymmetrically).  Ranks are measured one at a time so rank 0
 * answers one peer at a time.  What it is not: a clock discipline; nothing is
 * adjusted, the offsets are recorded and applied when traces are merged.
 */
#include <stdlib.h>

#include "harness/timer.h"
#include "harness/trace.h"

#define TAG_PING 0x5c01
#define TAG_PONG 0x5c02
#define TAG_RESULT 0x5c03

json_t *strata_clocksync_measure(MPI_Comm comm, int rounds, const char *when)
{
	int rank, n;
	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &n);
	if (rounds < 1)
		rounds = 1;
	/* result[r] = {offset, rtt, t_ref} as rank r found them (t_ref on rank 0's clock). */
	int64_t mine[3] = {0, 0, 0};
	if (rank == 0) {
		json_t *off = json_array(), *rtt = json_array(), *ref = json_array();
		json_array_append_new(off, json_integer(0));
		json_array_append_new(rtt, json_integer(0));
		json_array_append_new(ref, json_integer(strata_now_ns()));
		for (int r = 1; r < n; r++) {
			for (int i = 0; i < rounds; i++) {
				int64_t t1;
				MPI_Recv(&t1, 1, MPI_INT64_T, r, TAG_PING, comm, MPI_STATUS_IGNORE);
				int64_t t2 = strata_now_ns();
				MPI_Send(&t2, 1, MPI_INT64_T, r, TAG_PONG, comm);
			}
			int64_t res[3];
			MPI_Recv(res, 3, MPI_INT64_T, r, TAG_RESULT, comm, MPI_STATUS_IGNORE);
			json_array_append_new(off, json_integer(res[0]));
			json_array_append_new(rtt, json_integer(res[1]));
			json_array_append_new(ref, json_integer(res[2]));
		}
		return json_pack(
		    "{s:s,s:o,s:o,s:o,s:i,s:s}", "when", when, "offset_ns", off, "rtt_ns", rtt,
		    "t_ref_ns", ref, "rounds", rounds, "method",
		    "ping-pong with rank 0, minimum round trip kept; offset = T2 - (T1+T4)/2 "
		    "(Cristian 1989; RFC 5905 sec. 8); |error| <= rtt/2");
	}
	int64_t best_rtt = -1;
	for (int i = 0; i < rounds; i++) {
		int64_t t1 = strata_now_ns(), t2;
		MPI_Send(&t1, 1, MPI_INT64_T, 0, TAG_PING, comm);
		MPI_Recv(&t2, 1, MPI_INT64_T, 0, TAG_PONG, comm, MPI_STATUS_IGNORE);
		int64_t t4 = strata_now_ns();
		int64_t rtt = t4 - t1;
		if (best_rtt < 0 || rtt < best_rtt) {
			best_rtt = rtt;
			mine[0] = t2 - (t1 + t4) / 2;
			mine[1] = rtt;
			mine[2] = t2;
		}
	}
	MPI_Send(mine, 3, MPI_INT64_T, 0, TAG_RESULT, comm);
	return NULL;
}
