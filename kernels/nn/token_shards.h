/* token_shards.h: the training data on disk, and the loader that feeds the
 * training step from it with prefetch threads.
 *
 * What it is: binary token shards (a 64-byte header: magic "STRATOK1",
 * version, vocab, token count, seed, then uint16 tokens, little-endian) that
 * the training suite writes into its work directory (kernels/cpu/storage_fs.h)
 * from the Markov corpus, and a loader that reads micro-batches of B
 * sequences of T+1 tokens from a rank's shards, in order, wrapping around at
 * the end of its slice, through a queue filled by reader threads, optionally
 * with O_DIRECT (aligned block reads) so that the page cache does not hide
 * the storage.  The step's wait for data is measured by the caller around
 * strata_shards_next.
 * What it is not: shuffling, tokenisation, or a general dataset format.
 */
#ifndef STRATA_KERNELS_NN_TOKEN_SHARDS_H
#define STRATA_KERNELS_NN_TOKEN_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/nn/markov.h"

#define STRATA_SHARD_HEADER_BYTES 64

/* Write `tokens` tokens sampled from stream s into dirfd/name (O_EXCL,
 * O_NOFOLLOW), fsync it, and with drop_cache also posix_fadvise DONTNEED so
 * the first epoch reads from the device.  0, or -1 with a message naming the
 * file. */
int strata_shard_write(int dirfd, const char *name, struct strata_markov_stream *s,
                       uint64_t tokens, int vocab, uint64_t seed, int drop_cache, char *err,
                       size_t err_len);

/* Read a whole shard into memory (the validation set): *tokens malloc'd,
 * *n its length.  The header is checked (magic, version, vocab); a bad one
 * is an error naming the file and field. */
int strata_shard_read_all(int dirfd, const char *name, int vocab, uint16_t **tokens, uint64_t *n,
                          char *err, size_t err_len);

struct strata_shard_loader_cfg {
	int dirfd;
	const char *const *names; /* shard files, read in this order */
	int n_names;
	int vocab;
	int B, T;                 /* a batch is B sequences of T+1 tokens */
	int threads;              /* reader threads, >= 1 */
	int prefetch;             /* batches queued ahead, >= 1 */
	int direct;               /* O_DIRECT */
};

struct strata_shard_loader; /* opaque */

/* Open every shard (headers checked), start the readers.  Sequences are
 * consecutive, non-overlapping windows of T+1 tokens of the concatenated
 * shards; a window never spans two shards. */
int strata_shards_open(struct strata_shard_loader **out, const struct strata_shard_loader_cfg *cfg,
                       char *err, size_t err_len);
/* The next batch, (B, T+1) tokens, blocking until a reader has it.  The
 * pointer is valid until the next call.  NULL on a read error (message in
 * err: file, offset, errno). */
const uint16_t *strata_shards_next(struct strata_shard_loader *l, char *err, size_t err_len);
/* Bytes read from files and batches delivered so far; epochs completed. */
void strata_shards_counters(const struct strata_shard_loader *l, uint64_t *bytes_read,
                            uint64_t *batches, uint64_t *epochs);
/* Stop the readers, close files, free. */
void strata_shards_close(struct strata_shard_loader *l);

#endif
