// With mimalloc, the CLI sets decommit_delay to 0. Parked idle connections leave their
// Sessions' pages empty; mimalloc's default keeps such pages for a while (and glibc keeps
// pages that one small block still pins), so 2,000 idle connections cost ~1.3 KiB each
// with this setting against ~2-4 KiB without (docs/PERFORMANCE.md). Steady keep-alive
// traffic allocates nothing per request, so this costs no madvise calls there.
#include "allocator.hpp"

#ifdef FERRY_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace ferry_cli {

void tune_allocator() {
#ifdef FERRY_WITH_MIMALLOC
  mi_option_set(mi_option_decommit_delay, 0);
#endif
}

const char* allocator_name() {
#ifdef FERRY_WITH_MIMALLOC
  return "mimalloc";
#else
  return "system";
#endif
}

}  // namespace ferry_cli
