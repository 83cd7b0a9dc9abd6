/* storage_pattern.h: the deterministic data the storage suites write, and its
 * check.
 *
 * What it is: a function from (seed, file id, byte offset) to a byte, laid
 * out in 4096-byte sectors aligned in the file.  Each sector starts with a
 * 32-byte header of four 64-bit words
 *     w0 = STRATA_PATTERN_MAGIC ^ seed
 *     w1 = file id
 *     w2 = the sector's byte offset in the file
 *     w3 = mix(seed ^ mix(file id) ^ offset)      (mix: splitmix64's finaliser)
 * and the other 4064 bytes are a body that depends on the seed, the file id
 * and the word's place in the sector (word k = mix(seed + file id * phi + k)).
 * A sector written to the wrong place, a sector of another file, stale data
 * of another case (another seed) or a flipped byte all show as a mismatch,
 * and the header names the file and offset it should have had.  Like fio's
 * verify headers (offset and a checksum in every block, fio's verify.c), but
 * the whole content is known, so the check needs no stored checksum.
 * What it is not: random-looking data for compressing or deduplicating file
 * systems (the body repeats from sector to sector, as fio's default buffers
 * repeat); a cryptographic check.
 *
 * Writing costs almost nothing: a buffer filled once with the template only
 * needs its headers restamped (32 bytes per 4096) for each new offset, so the
 * timed write path does not generate data (fio too fills its buffers once).
 */
#ifndef STRATA_STORAGE_PATTERN_H
#define STRATA_STORAGE_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define STRATA_PATTERN_SECTOR_BYTES 4096u
#define STRATA_PATTERN_HEADER_BYTES 32u
#define STRATA_PATTERN_MAGIC 0x5354524154412d50ull /* "STRATA-P" */

/* One file's pattern: the seed, the file id and the sector template (its
 * header words zero; they depend on the offset). */
struct strata_pattern {
	uint64_t seed;
	uint64_t file_id;
	unsigned char sector[STRATA_PATTERN_SECTOR_BYTES];
};

/* The first wrong byte a check found. */
struct strata_pattern_error {
	uint64_t offset;   /* byte offset in the file */
	unsigned expected; /* byte values */
	unsigned actual;
	int in_header;        /* 1: in the sector's 32-byte header */
	uint64_t header_file; /* what the header there says, when in_header */
	uint64_t header_offset;
};

/* splitmix64's finaliser (Steele, Lea, Flood 2014; Vigna's splitmix64.c). */
uint64_t strata_pattern_mix(uint64_t x);

void strata_pattern_init(struct strata_pattern *p, uint64_t seed, uint64_t file_id);

/* Write the pattern of [offset, offset + len) into buf (any offset, any len). */
void strata_pattern_fill(const struct strata_pattern *p, uint64_t offset, void *buf, size_t len);

/* buf holds the pattern of some sector-aligned range of the same file (or the
 * template); rewrite its headers for [offset, offset + len).  offset and len
 * must be multiples of STRATA_PATTERN_SECTOR_BYTES. */
void strata_pattern_stamp(const struct strata_pattern *p, uint64_t offset, void *buf, size_t len);

/* Compare buf with the pattern of [offset, offset + len).  Returns the number
 * of sectors (or parts of sectors, at unaligned ends) holding a wrong byte;
 * *first gets the first wrong byte when the count is > 0. */
int64_t strata_pattern_check(const struct strata_pattern *p, uint64_t offset, const void *buf,
                             size_t len, struct strata_pattern_error *first);

#endif
