// Inline XXH3 so the hot checksum and filter-hash paths avoid a call into the shared library.
#define XXH_INLINE_ALL
#include <xxhash.h>

static inline unsigned long long floe_xxh3_64(const void *p, size_t n) {
    return XXH3_64bits(p, n);
}

static inline unsigned long long floe_xxh3_64_seed(const void *p, size_t n, unsigned long long seed) {
    return XXH3_64bits_withSeed(p, n, seed);
}
