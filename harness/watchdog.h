/* watchdog.h: what the run does when a rank dies or hangs.
 *
 * A rank that dies (a node crash, an OOM kill) or hangs (a stuck collective,
 * a driver call that never returns) leaves the others waiting forever in the
 * next collective.  Three mechanisms end such a run with a message that
 * names the case and the ranks, none of them on the timed path:
 *
 *   1. The stop vote before every repetition (measure.c) is a non-blocking
 *      MPI_Iallreduce completed by an MPI_Test loop, strata_watchdog_vote().
 *      The loop costs nothing while the vote completes at once; only when it
 *      has waited 100 ms does it start checking, every 100 ms, that the ranks
 *      on its own host are alive (their pids, gathered at start, against
 *      /proc).  A rank that finds a dead peer names it (rank, host, pid) and
 *      the case, and calls MPI_Abort.
 *   2. When the wait passes the case's deadline (timeout_s) plus a grace of
 *      STRATA_WATCHDOG_GRACE_S, every waiting rank tells rank 0 it arrived;
 *      rank 0 waits a few seconds more for those messages, then names the
 *      case and the ranks that never arrived, and calls MPI_Abort.  On a
 *      SIGINT/SIGTERM, waiting ranks report at once, and rank 0 says who
 *      had not arrived half a second later (launchers kill soon after).
 *   3. A thread per rank: a rank still inside a case, but not waiting in a
 *      vote, 10 s after rank 0's roll call would have happened (a rank stuck
 *      in a suite's collective or compute) prints what it was doing and
 *      _exits with STRATA_EXIT_RUNTIME.
 *
 * It does not detect a rank that dies alone on its host before the deadline
 * passes (no local peer sees its pid go) other than by mechanism 2, nor a
 * rank that is merely slow within its grace.  The thread never calls MPI
 * (MPI is initialised with MPI_THREAD_SINGLE); everything else runs on the
 * main thread.
 */
#ifndef STRATA_WATCHDOG_H
#define STRATA_WATCHDOG_H

#include <stdint.h>

#include <mpi.h>

#include "harness/measure.h"

/* Seconds past a case's deadline before a rank counts as hung. */
#define STRATA_WATCHDOG_GRACE_S 30

/* Collective over MPI_COMM_WORLD: duplicate it for the watchdog's own
 * messages, learn the pids of the ranks on this host, start the thread.
 * ri->hostnames (rank 0) must outlive strata_watchdog_stop().  Without it
 * the vote still works, with no fault detection but the thread's. */
int strata_watchdog_start(const struct strata_rank_info *ri);

/* Collective: drain the watchdog's messages and free its communicator. */
void strata_watchdog_stop(void);

/* The case now running and its deadline (monotonic ns; 0: no case). */
void strata_watchdog_set_case(int64_t deadline_ns, const char *what);

/* The stop vote: *flags = bitwise OR of every rank's *flags over comm (a
 * sub-communicator of MPI_COMM_WORLD), waiting with the checks above.
 * timed and repetition say where the case is, for the messages.  Aborts the
 * run rather than return when a rank is dead or hung. */
void strata_watchdog_vote(MPI_Comm comm, int *flags, int timed, int64_t repetition);

/* Called on rank 0, once, just before the watchdog aborts the run, with the
 * message it prints (the runner records it in the manifest). */
void strata_watchdog_on_abort(void (*fn)(const char *why, void *arg), void *arg);

#endif
