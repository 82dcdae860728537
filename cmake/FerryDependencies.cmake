# Every dependency comes from a Debian 12 package (see README "Dependencies").
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG)
find_package(OpenSSL 3 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
# c-ares: DNS discovery (STRICT_DNS / LOGICAL_DNS clusters), Debian's libc-ares-dev.
pkg_check_modules(CARES REQUIRED IMPORTED_TARGET libcares)
# libxcrypt: crypt_r for htpasswd hashes in the basic_auth filter, Debian's libcrypt-dev.
pkg_check_modules(XCRYPT REQUIRED IMPORTED_TARGET libxcrypt)

# Asio and Beast are compiled once (lib/common/asio_impl.cpp) instead of in every
# translation unit; everything that includes them inside the build must agree on this.
add_library(ferry_asio INTERFACE)
target_link_libraries(ferry_asio INTERFACE Boost::headers Threads::Threads)
target_compile_definitions(ferry_asio INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED
  BOOST_ASIO_DISABLE_BOOST_COROUTINE
  # A session nests a few coroutine frames per request; caching more of them per thread
  # keeps the steady state free of malloc/free.
  BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16)

function(ferry_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
endfunction()
