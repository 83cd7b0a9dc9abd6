/* storage_layout.c: IOR's file layouts and a keyed shuffle (storage_layout.h). */
#include "kernels/cpu/storage_layout.h"

#include <string.h>

#include "kernels/cpu/storage_pattern.h"

static const char *const kind_names[] = {"file-per-rank", "shared-segmented", "shared-strided"};

int strata_layout_kind_parse(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}

const char *strata_layout_kind_name(enum strata_layout_kind k)
{
	return (unsigned)k < 3 ? kind_names[k] : "?";
}

uint64_t strata_layout_shuffle(uint64_t i, uint64_t n, uint64_t key)
{
	if (n <= 1)
		return 0;
	unsigned bits = 0;
	while (bits < 64 && (1ull << bits) < n)
		bits++;
	bits += bits & 1u; /* even, so the two halves have equal width */
	if (bits > 62)
		return i; /* not reachable for file sizes a plan can ask for */
	unsigned half = bits / 2;
	uint64_t mask = (1ull << half) - 1;
	uint64_t x = i;
	do {
		uint64_t l = x >> half, r = x & mask;
		for (int round = 0; round < 4; round++) {
			uint64_t f = strata_pattern_mix(
			                 r ^ (key + (uint64_t)round * 0x9e3779b97f4a7c15ull)) &
			             mask;
			uint64_t nl = r;
			r = l ^ f;
			l = nl;
		}
		x = (l << half) | r;
	} while (x >= n); /* cycle walking: stays a bijection of [0, n) */
	return x;
}

uint64_t strata_layout_offset(const struct strata_layout *l, uint64_t i)
{
	uint64_t b = l->shuffled ? strata_layout_shuffle(i, l->blocks, l->key) : i;
	uint64_t B = l->block_bytes, R = (uint64_t)l->nranks, r = (uint64_t)l->rank;
	switch (l->kind) {
	case STRATA_LAYOUT_SHARED_SEGMENTED:
		return r * l->blocks * B + b * B;
	case STRATA_LAYOUT_SHARED_STRIDED:
		return (b * R + r) * B;
	case STRATA_LAYOUT_FILE_PER_RANK:
	default:
		return b * B;
	}
}

uint64_t strata_layout_file_bytes(const struct strata_layout *l)
{
	uint64_t share = l->blocks * l->block_bytes;
	return l->kind == STRATA_LAYOUT_FILE_PER_RANK ? share : share * (uint64_t)l->nranks;
}
