/* storage_pattern.c: the storage suites' data pattern and its check (see
 * storage_pattern.h for the layout).  Pure functions of memory: no I/O. */
#include "kernels/cpu/storage_pattern.h"

#include <string.h>

#define SECTOR STRATA_PATTERN_SECTOR_BYTES
#define HEADER STRATA_PATTERN_HEADER_BYTES
#define PHI 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio, splitmix64's increment */

uint64_t strata_pattern_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

void strata_pattern_init(struct strata_pattern *p, uint64_t seed, uint64_t file_id)
{
	p->seed = seed;
	p->file_id = file_id;
	memset(p->sector, 0, HEADER);
	for (size_t k = HEADER / 8; k < SECTOR / 8; k++) {
		uint64_t w = strata_pattern_mix(seed + file_id * PHI + (uint64_t)k);
		memcpy(p->sector + 8 * k, &w, 8);
	}
}

/* The 4 header words of the sector at (aligned) offset. */
static void header_words(const struct strata_pattern *p, uint64_t offset, uint64_t w[4])
{
	w[0] = STRATA_PATTERN_MAGIC ^ p->seed;
	w[1] = p->file_id;
	w[2] = offset;
	w[3] = strata_pattern_mix(p->seed ^ strata_pattern_mix(p->file_id) ^ offset);
}

/* The whole expected sector at (aligned) offset. */
static void sector_expected(const struct strata_pattern *p, uint64_t offset,
                            unsigned char out[SECTOR])
{
	uint64_t w[4];
	memcpy(out, p->sector, SECTOR);
	header_words(p, offset, w);
	memcpy(out, w, HEADER);
}

void strata_pattern_fill(const struct strata_pattern *p, uint64_t offset, void *buf, size_t len)
{
	unsigned char *out = buf;
	while (len > 0) {
		uint64_t base = offset - offset % SECTOR;
		size_t in = (size_t)(offset - base);
		size_t n = SECTOR - in < len ? SECTOR - in : len;
		if (in == 0 && n == SECTOR) {
			uint64_t w[4];
			memcpy(out, p->sector, SECTOR);
			header_words(p, base, w);
			memcpy(out, w, HEADER);
		} else {
			unsigned char s[SECTOR];
			sector_expected(p, base, s);
			memcpy(out, s + in, n);
		}
		out += n;
		offset += n;
		len -= n;
	}
}

void strata_pattern_stamp(const struct strata_pattern *p, uint64_t offset, void *buf, size_t len)
{
	unsigned char *out = buf;
	for (size_t done = 0; done + SECTOR <= len; done += SECTOR) {
		uint64_t w[4];
		header_words(p, offset + done, w);
		memcpy(out + done, w, HEADER);
	}
}

/* First index where a and b differ (n if none). */
static size_t first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i = 0;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

int64_t strata_pattern_check(const struct strata_pattern *p, uint64_t offset, const void *buf,
                             size_t len, struct strata_pattern_error *first)
{
	const unsigned char *in = buf;
	int64_t wrong = 0;
	while (len > 0) {
		uint64_t base = offset - offset % SECTOR;
		size_t at = (size_t)(offset - base);
		size_t n = SECTOR - at < len ? SECTOR - at : len;
		int bad;
		unsigned char s[SECTOR];
		if (at == 0 && n == SECTOR) {
			/* Fast path: header against its 32 expected bytes, body
			 * against the template, each one memcmp. */
			uint64_t w[4];
			header_words(p, base, w);
			bad = memcmp(in, w, HEADER) != 0 ||
			      memcmp(in + HEADER, p->sector + HEADER, SECTOR - HEADER) != 0;
			if (bad && wrong == 0)
				sector_expected(p, base, s);
		} else {
			sector_expected(p, base, s);
			bad = memcmp(in, s + at, n) != 0;
		}
		if (bad) {
			if (wrong == 0 && first) {
				size_t i = first_diff(s + at, in, n);
				uint64_t byte = at + i; /* offset in the sector */
				*first = (struct strata_pattern_error){
				    .offset = base + byte,
				    .expected = s[byte],
				    .actual = in[i],
				    .in_header = byte < HEADER,
				};
				if (at == 0 && n >= HEADER) {
					memcpy(&first->header_file, in + 8, 8);
					memcpy(&first->header_offset, in + 16, 8);
				}
			}
			wrong++;
		}
		in += n;
		offset += n;
		len -= n;
	}
	return wrong;
}
