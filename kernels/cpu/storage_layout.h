/* storage_layout.h: where each transfer of each rank goes, as IOR lays out
 * its files, and the random order of random-access patterns.
 *
 * What it is: arithmetic.  A rank moves `blocks` transfers of `block_bytes`
 * each (its share S = blocks x block_bytes); transfer i of rank r (of R ranks)
 * goes to
 *   file-per-rank     file r, offset i x B
 *   shared-segmented  one file, offset r x S + i x B
 *   shared-strided    one file, offset (i x R + r) x B
 * which are IOR's offsets (IOR aiori.c / ior.c GetOffsetArraySequential:
 * offset = segment x R x blockSize + rank x blockSize + transfer x
 * transferSize) for segmented (one segment, blockSize = S) and strided
 * (segments = blocks, blockSize = transferSize = B) files.
 * Random order: transfer i is the shuffle(i)-th block of the rank's share,
 * shuffle a keyed bijection of [0, blocks), so a random pass still touches
 * every block exactly once (fio's random map, IOR -z).
 * What it is not: I/O (storage_io.c does it).
 */
#ifndef STRATA_STORAGE_LAYOUT_H
#define STRATA_STORAGE_LAYOUT_H

#include <stdint.h>

enum strata_layout_kind {
	STRATA_LAYOUT_FILE_PER_RANK = 0,
	STRATA_LAYOUT_SHARED_SEGMENTED = 1,
	STRATA_LAYOUT_SHARED_STRIDED = 2,
};

struct strata_layout {
	enum strata_layout_kind kind;
	int rank, nranks;
	uint64_t block_bytes; /* B */
	uint64_t blocks;      /* transfers per rank; S = blocks x B */
	int shuffled;         /* random order */
	uint64_t key;         /* of the shuffle */
};

/* Parse "file-per-rank" | "shared-segmented" | "shared-strided"; -1 if none. */
int strata_layout_kind_parse(const char *name);
const char *strata_layout_kind_name(enum strata_layout_kind k);

/* A keyed bijection of [0, n) (n >= 1): a 4-round Feistel network on the
 * smallest even number of bits covering n, cycle-walking until the value
 * falls below n (Black and Rogaway, "Ciphers with arbitrary finite domains",
 * 2002).  Fewer than 4 rounds of the network per call on average. */
uint64_t strata_layout_shuffle(uint64_t i, uint64_t n, uint64_t key);

/* Offset in its file of the rank's i-th transfer (0 <= i < blocks). */
uint64_t strata_layout_offset(const struct strata_layout *l, uint64_t i);

/* Bytes of the file the rank works on: S for file-per-rank, R x S shared. */
uint64_t strata_layout_file_bytes(const struct strata_layout *l);

#endif
