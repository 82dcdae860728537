// The CLI's allocator settings (see examples/CMakeLists.txt).
#pragma once

namespace ferry_cli {

/// Call first thing in main(). With mimalloc: freed pages go back to the OS without delay.
void tune_allocator();
/// "mimalloc" or "system", for the startup log.
const char* allocator_name();

}  // namespace ferry_cli
