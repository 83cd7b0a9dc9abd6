/* watchdog.c: dead and hung ranks (see watchdog.h for what it does and what
 * it does not).  Nothing here runs inside a timed region: the vote's MPI_Test
 * loop only starts checking after 100 ms of waiting. */
#define _GNU_SOURCE
#include "harness/watchdog.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/runner.h"
#include "harness/timer.h"

#define NS_PER_S 1000000000LL
#define CHECK_PERIOD_NS (100 * 1000000LL) /* liveness and deadline checks while waiting */
#define COLLECT_S 5                       /* rank 0 waits this long after the grace for arrivals */
#define GIVE_UP_S 20      /* other ranks give up waiting for rank 0 this long after the grace */
#define THREAD_EXTRA_S 15 /* the thread acts this long after the grace */
#define SIGNAL_REPORT_NS (500 * 1000000LL) /* after a signal, rank 0 says who is missing */
#define DEAD_FALLBACK_NS (2 * NS_PER_S)    /* a rank other than the first reports a dead peer */
#define MAX_NAMED 32                       /* ranks named in one message */

/* A rank on this host, as it described itself at start. */
struct peer {
	int rank;
	long pid;                       /* 0: no /proc, not checked */
	unsigned long long start_ticks; /* /proc/PID/stat field 22, tells a reused pid apart */
	char pidns[64]; /* readlink /proc/self/ns/pid: only the same namespace is checked */
};

static struct {
	int active;
	MPI_Comm
	    comm; /* a duplicate of MPI_COMM_WORLD: arrivals never mix with the suites' messages */
	int rank, nranks;
	char host[256];
	char *const *hostnames; /* rank 0: every rank's host */
	struct peer *peers;     /* the ranks on this host, this one included */
	int n_peers;
	int64_t *dead_since_ns; /* per peer: when this rank first saw it dead (0: alive) */
	int64_t *arrived_seq;   /* rank 0, per rank: the vote it last said it waits in */
	int64_t seq;            /* votes so far: the same count on every rank */
	long long arrival[2];   /* the message in flight: {seq, 0}; {-1, 0} says goodbye */
	MPI_Request arrival_req;
	void (*on_abort)(const char *why, void *arg);
	void *on_abort_arg;
} W = {.comm = MPI_COMM_NULL, .arrival_req = MPI_REQUEST_NULL};

enum { TAG_ARRIVAL = 1 };

static _Atomic int64_t deadline_ns;
static _Atomic int in_vote;
static char case_what[2048];
static pthread_t thread;
static int thread_started;

void strata_watchdog_set_case(int64_t deadline, const char *what)
{
	/* The thread reads case_what only while a deadline is set. */
	atomic_store(&deadline_ns, 0);
	if (what)
		snprintf(case_what, sizeof(case_what), "%s", what);
	atomic_store(&deadline_ns, deadline);
}

void strata_watchdog_on_abort(void (*fn)(const char *why, void *arg), void *arg)
{
	W.on_abort = fn;
	W.on_abort_arg = arg;
}

/* ---- /proc -------------------------------------------------------------------- */

/* State letter and start time (clock ticks since boot) of a process, from
 * /proc/PID/stat (proc(5): field 3 state, field 22 starttime; field 2, the
 * command, may hold spaces and parentheses, so parse after the last ')').
 * Returns -1 when there is no such process. */
static int proc_stat(long pid, char *state, unsigned long long *start_ticks)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	*start_ticks = strtoull(p, NULL, 10);
	return 0;
}

static int peer_alive(const struct peer *me, const struct peer *p)
{
	if (!p->pid || !me->pid || strcmp(p->pidns, me->pidns) != 0)
		return 1; /* cannot tell: assume alive */
	char state;
	unsigned long long start;
	if (proc_stat(p->pid, &state, &start) != 0)
		return 0;
	return state != 'Z' && state != 'X' && start == p->start_ticks;
}

/* ---- start, stop ---------------------------------------------------------------- */

static void *thread_main(void *arg);

int strata_watchdog_start(const struct strata_rank_info *ri)
{
	if (MPI_Comm_dup(MPI_COMM_WORLD, &W.comm) != MPI_SUCCESS)
		return -1;
	MPI_Comm_rank(W.comm, &W.rank);
	MPI_Comm_size(W.comm, &W.nranks);
	gethostname(W.host, sizeof(W.host) - 1);
	W.hostnames = ri->hostnames;

	struct peer me = {.rank = W.rank, .pid = (long)getpid()};
	char state;
	ssize_t len = readlink("/proc/self/ns/pid", me.pidns, sizeof(me.pidns) - 1);
	if (len <= 0 || proc_stat(me.pid, &state, &me.start_ticks) != 0)
		me.pid = 0;
	MPI_Comm local;
	MPI_Comm_split_type(W.comm, MPI_COMM_TYPE_SHARED, W.rank, MPI_INFO_NULL, &local);
	MPI_Comm_size(local, &W.n_peers);
	W.peers = calloc((size_t)W.n_peers, sizeof(*W.peers));
	W.dead_since_ns = calloc((size_t)W.n_peers, sizeof(*W.dead_since_ns));
	MPI_Allgather(&me, (int)sizeof(me), MPI_BYTE, W.peers, (int)sizeof(me), MPI_BYTE, local);
	MPI_Comm_free(&local);
	if (W.rank == 0)
		W.arrived_seq = calloc((size_t)W.nranks, sizeof(*W.arrived_seq));
	W.seq = 0;
	W.active = 1;
	if (!thread_started && pthread_create(&thread, NULL, thread_main, NULL) == 0) {
		pthread_detach(thread);
		thread_started = 1;
	}
	return 0;
}

void strata_watchdog_stop(void)
{
	if (!W.active)
		return;
	strata_watchdog_set_case(0, NULL);
	/* Every arrival message sent must be received before the communicator
	 * goes: each rank says goodbye last (messages from one rank arrive in
	 * order), rank 0 receives until it has every goodbye. */
	if (W.rank != 0) {
		MPI_Wait(&W.arrival_req, MPI_STATUS_IGNORE);
		long long bye[2] = {-1, 0};
		MPI_Send(bye, 2, MPI_LONG_LONG, 0, TAG_ARRIVAL, W.comm);
	} else {
		for (int byes = 0; byes < W.nranks - 1;) {
			long long msg[2];
			MPI_Recv(msg, 2, MPI_LONG_LONG, MPI_ANY_SOURCE, TAG_ARRIVAL, W.comm,
			         MPI_STATUS_IGNORE);
			byes += msg[0] == -1;
		}
	}
	MPI_Comm_free(&W.comm);
	free(W.peers);
	free(W.dead_since_ns);
	free(W.arrived_seq);
	W.peers = NULL;
	W.dead_since_ns = W.arrived_seq = NULL;
	W.active = 0;
}

/* ---- messages and the end of the run ------------------------------------------ */

static void where(char *buf, size_t len, int timed, int64_t repetition)
{
	snprintf(buf, len, "the stop vote before %s %lld",
	         timed ? "timed repetition" : "warm-up iteration", (long long)repetition);
}

static void abort_run(const char *why)
{
	fprintf(stderr, "%s\n", why);
	fflush(stderr);
	fflush(stdout);
	if (W.rank == 0 && W.on_abort)
		W.on_abort(why, W.on_abort_arg);
	MPI_Abort(MPI_COMM_WORLD, STRATA_EXIT_RUNTIME);
	_exit(STRATA_EXIT_RUNTIME); /* MPI_Abort does not return; if it did */
}

static void check_peers(int timed, int64_t repetition, int64_t now)
{
	const struct peer *me = NULL;
	for (int i = 0; i < W.n_peers; i++)
		if (W.peers[i].rank == W.rank)
			me = &W.peers[i];
	if (!me || !me->pid)
		return;
	int64_t first_death = 0;
	for (int i = 0; i < W.n_peers; i++) {
		if (&W.peers[i] == me || peer_alive(me, &W.peers[i]))
			W.dead_since_ns[i] = 0;
		else if (!W.dead_since_ns[i])
			W.dead_since_ns[i] = now;
		if (W.dead_since_ns[i] && (!first_death || W.dead_since_ns[i] < first_death))
			first_death = W.dead_since_ns[i];
	}
	if (!first_death)
		return;
	/* The first rank of the host that was alive when the first death was
	 * seen reports it; ranks that died after (killed by that report's
	 * MPI_Abort) do not count, and are not reported. */
	int reporter = -1;
	for (int i = 0; i < W.n_peers && reporter < 0; i++)
		if (!W.dead_since_ns[i] || W.dead_since_ns[i] > first_death)
			reporter = W.peers[i].rank;
	/* The others report only if the reporter has not ended the run after a
	 * while (it may be stuck itself). */
	if (reporter != W.rank && now - first_death < DEAD_FALLBACK_NS)
		return;
	char dead[1024] = "", at[128], why[4096];
	size_t off = 0;
	int n = 0;
	for (int i = 0; i < W.n_peers && off < sizeof(dead); i++)
		if (W.dead_since_ns[i] == first_death)
			off += (size_t)snprintf(dead + off, sizeof(dead) - off, "%s%d (pid %ld)",
			                        n++ ? ", " : "", W.peers[i].rank, W.peers[i].pid);
	where(at, sizeof(at), timed, repetition);
	snprintf(
	    why, sizeof(why),
	    "strata: rank %s on %s died during case %s: its process is gone; rank %d noticed while "
	    "waiting at %s. Aborting the run: finished cases are in results.jsonl, the manifest "
	    "says "
	    "incomplete.",
	    dead, W.host, case_what, W.rank, at);
	abort_run(why);
}

/* Rank 0: read the arrival messages that have come; name the ranks that
 * have not said they wait in this vote. */
static int missing_ranks(char *buf, size_t len)
{
	int flag = 1;
	while (flag) {
		MPI_Status st;
		MPI_Iprobe(MPI_ANY_SOURCE, TAG_ARRIVAL, W.comm, &flag, &st);
		if (!flag)
			break;
		long long msg[2];
		MPI_Recv(msg, 2, MPI_LONG_LONG, st.MPI_SOURCE, TAG_ARRIVAL, W.comm,
		         MPI_STATUS_IGNORE);
		if (msg[0] >= 0 && st.MPI_SOURCE < W.nranks)
			W.arrived_seq[st.MPI_SOURCE] = msg[0];
	}
	int n = 0;
	size_t off = 0;
	buf[0] = '\0';
	for (int r = 1; r < W.nranks; r++) {
		if (W.arrived_seq[r] == W.seq)
			continue;
		if (n < MAX_NAMED && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%d (%s)", n ? ", " : "", r,
			                        W.hostnames ? W.hostnames[r] : "?");
		n++;
	}
	if (n > MAX_NAMED && off < len)
		snprintf(buf + off, len - off, " and %d more", n - MAX_NAMED);
	return n;
}

static void send_arrival(void)
{
	int done = 1;
	if (W.arrival_req != MPI_REQUEST_NULL)
		MPI_Test(&W.arrival_req, &done, MPI_STATUS_IGNORE);
	if (!done)
		return; /* the last one is still on its way; try again next check */
	W.arrival[0] = W.seq;
	W.arrival[1] = 0;
	MPI_Isend(W.arrival, 2, MPI_LONG_LONG, 0, TAG_ARRIVAL, W.comm, &W.arrival_req);
}

/* ---- the vote ----------------------------------------------------------------------- */

static void wait_vote(MPI_Request *req, int timed, int64_t repetition)
{
	int64_t t_wait = strata_now_ns(), next_check = t_wait + CHECK_PERIOD_NS, t_signal = 0;
	int64_t sent_seq = -1;
	int told = 0;
	atomic_store(&in_vote, 1);
	for (;;) {
		int done = 0;
		MPI_Test(req, &done, MPI_STATUS_IGNORE);
		if (done)
			break;
		int64_t now = strata_now_ns();
		if (now < next_check)
			continue;
		next_check = now + CHECK_PERIOD_NS;
		if (now - t_wait > NS_PER_S) {
			/* Long waits yield the core to whoever is late. */
			struct timespec ms = {.tv_nsec = 1000000};
			nanosleep(&ms, NULL);
		}
		if (!W.active)
			continue;
		check_peers(timed, repetition, now);
		int64_t d = atomic_load(&deadline_ns);
		int64_t overdue_at = d > 0 ? d + STRATA_WATCHDOG_GRACE_S * NS_PER_S : INT64_MAX;
		if (strata_runner_signal() && !t_signal)
			t_signal = now;
		if (W.rank != 0) {
			if ((now > overdue_at || t_signal) && sent_seq != W.seq) {
				send_arrival();
				if (W.arrival_req != MPI_REQUEST_NULL && W.arrival[0] == W.seq)
					sent_seq = W.seq;
			}
			if (now > overdue_at + GIVE_UP_S * NS_PER_S) {
				char at[128], why[4096];
				where(at, sizeof(at), timed, repetition);
				snprintf(why, sizeof(why),
				         "strata: rank %d on %s: case %s: waited at %s for %d s "
				         "past its timeout_s "
				         "and rank 0 has not ended the run (it may be the hung "
				         "rank); aborting.",
				         W.rank, W.host, case_what, at,
				         STRATA_WATCHDOG_GRACE_S + GIVE_UP_S);
				abort_run(why);
			}
			continue;
		}
		char missing[3072], at[128], why[8192];
		if (t_signal && !told && now > t_signal + SIGNAL_REPORT_NS) {
			told = 1;
			if (missing_ranks(missing, sizeof(missing)) > 0) {
				where(at, sizeof(at), timed, repetition);
				fprintf(stderr,
				        "strata: signal %d while case %s waited at %s; not arrived "
				        "after %.1f s: "
				        "rank(s) %s (dead, hung, or in a long repetition)\n",
				        strata_runner_signal(), case_what, at,
				        (double)(now - t_wait) * 1e-9, missing);
				fflush(stderr);
			}
		}
		if (now > overdue_at + COLLECT_S * NS_PER_S) {
			int n = missing_ranks(missing, sizeof(missing));
			where(at, sizeof(at), timed, repetition);
			snprintf(why, sizeof(why),
			         "strata: case %s: %d rank(s) did not arrive at %s within "
			         "timeout_s + %d s: "
			         "rank(s) %s; they are hung (a stuck collective or driver call) or "
			         "dead. Aborting "
			         "the run: finished cases are in results.jsonl, the manifest says "
			         "incomplete.",
			         case_what, n, at, STRATA_WATCHDOG_GRACE_S,
			         n ? missing : "(none named: no arrival messages)");
			abort_run(why);
		}
	}
	atomic_store(&in_vote, 0);
}

void strata_watchdog_vote(MPI_Comm comm, int *flags, int timed, int64_t repetition)
{
	int mine = *flags;
	MPI_Request req;
	W.seq++;
	MPI_Iallreduce(&mine, flags, 1, MPI_INT, MPI_BOR, comm, &req);
	int done = 0;
	MPI_Test(&req, &done, MPI_STATUS_IGNORE);
	if (!done)
		wait_vote(&req, timed, repetition);
}

/* ---- the thread ------------------------------------------------------------------------ */

static void *thread_main(void *arg)
{
	(void)arg;
	const int64_t after_ns = (STRATA_WATCHDOG_GRACE_S + THREAD_EXTRA_S) * NS_PER_S;
	for (;;) {
		sleep(1);
		int64_t d = atomic_load(&deadline_ns);
		if (d > 0 && !atomic_load(&in_vote) && strata_now_ns() > d + after_ns) {
			fprintf(stderr,
			        "strata: rank %d on %s: case %s is still running %d s after its "
			        "timeout_s, not "
			        "waiting for other ranks (stuck in the suite's own work or "
			        "collective); aborting "
			        "this rank: finished cases are in results.jsonl, the manifest says "
			        "incomplete.\n",
			        W.rank, W.host, case_what,
			        STRATA_WATCHDOG_GRACE_S + THREAD_EXTRA_S);
			fflush(stderr);
			_exit(STRATA_EXIT_RUNTIME);
		}
	}
	return NULL;
}
