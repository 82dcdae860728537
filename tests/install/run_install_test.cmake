# Install test: build and install ferry (no tests, no examples) into a private prefix, build
# examples/embed_minimal.cpp in a separate consumer project through find_package(ferry), and
# run it with --check (compose the server, start(), stop(), wait(), exit 0).
#
#   cmake -DSOURCE_DIR=<ferry source> -DBINARY_DIR=<scratch dir> [-DGENERATOR=Ninja]
#         -P tests/install/run_install_test.cmake
#
# BINARY_DIR/ferry-build is kept between runs (incremental rebuilds; ccache covers the rest);
# BINARY_DIR/prefix and BINARY_DIR/consumer-build are recreated every run.
# Environment: FERRY_INSTALL_TEST_BUILD_TYPE (default Release), FERRY_INSTALL_TEST_JOBS (default 2).
cmake_minimum_required(VERSION 3.25)

foreach(var SOURCE_DIR BINARY_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "install test: -D${var}=... is required")
  endif()
  get_filename_component(${var} "${${var}}" ABSOLUTE)
endforeach()
if(NOT GENERATOR)
  find_program(_ninja ninja)
  if(_ninja)
    set(GENERATOR Ninja)
  else()
    set(GENERATOR "Unix Makefiles")
  endif()
endif()

set(build_type Release)
if(DEFINED ENV{FERRY_INSTALL_TEST_BUILD_TYPE})
  set(build_type $ENV{FERRY_INSTALL_TEST_BUILD_TYPE})
endif()
set(jobs 2)
if(DEFINED ENV{FERRY_INSTALL_TEST_JOBS})
  set(jobs $ENV{FERRY_INSTALL_TEST_JOBS})
endif()

set(ferry_build ${BINARY_DIR}/ferry-build)
set(prefix ${BINARY_DIR}/prefix)
set(consumer_src ${CMAKE_CURRENT_LIST_DIR}/consumer)
set(consumer_build ${BINARY_DIR}/consumer-build)

# ferry uses precompiled headers: ccache only hits on them with this sloppiness.
# Paths relative to SOURCE_DIR let another clone of the repo (CI's) hit the same entries.
if(NOT DEFINED ENV{CCACHE_SLOPPINESS})
  set(ENV{CCACHE_SLOPPINESS} pch_defines,time_macros,include_file_mtime,include_file_ctime)
endif()
if(NOT DEFINED ENV{CCACHE_BASEDIR})
  set(ENV{CCACHE_BASEDIR} ${SOURCE_DIR})
endif()
if(NOT DEFINED ENV{CCACHE_NOHASHDIR})
  set(ENV{CCACHE_NOHASHDIR} 1)
endif()
set(launcher)
find_program(_ccache ccache)
if(_ccache)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${_ccache})
endif()

# Runs one step; on failure stops the test with the step's name and its output.
function(step name timeout)
  message(STATUS "install test: ${name}")
  execute_process(COMMAND ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out
                  TIMEOUT ${timeout})
  if(NOT rc STREQUAL "0")
    list(JOIN ARGN " " cmdline)
    message(FATAL_ERROR "install test: step '${name}' FAILED (exit: ${rc})\n"
                        "command: ${cmdline}\n--- output ---\n${out}\n--- end of output ---")
  endif()
endfunction()

file(REMOVE_RECURSE ${prefix} ${consumer_build})

# A tree left configured with another generator cannot be reused.
if(EXISTS ${ferry_build}/CMakeCache.txt)
  file(STRINGS ${ferry_build}/CMakeCache.txt cached_generator REGEX "^CMAKE_GENERATOR:INTERNAL=")
  if(NOT cached_generator STREQUAL "CMAKE_GENERATOR:INTERNAL=${GENERATOR}")
    file(REMOVE_RECURSE ${ferry_build})
  endif()
endif()

step("configure ferry (${build_type}, tests and examples off)" 300
  ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${ferry_build} -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=${build_type}
    -DFERRY_BUILD_TESTS=OFF -DFERRY_BUILD_EXAMPLES=OFF -DFERRY_SANITIZE=OFF
    -DCMAKE_INSTALL_PREFIX=${prefix} ${launcher})
step("build ferry" 1800 ${CMAKE_COMMAND} --build ${ferry_build} --parallel ${jobs})
step("install ferry into ${prefix}" 120 ${CMAKE_COMMAND} --install ${ferry_build})

foreach(installed lib/cmake/ferry/ferryConfig.cmake lib/cmake/ferry/ferryConfigVersion.cmake
                  lib/cmake/ferry/ferryTargets.cmake include/ferry/ferry.hpp)
  if(NOT EXISTS ${prefix}/${installed})
    file(GLOB_RECURSE listing RELATIVE ${prefix} ${prefix}/*)
    list(JOIN listing "\n  " listing)
    message(FATAL_ERROR "install test: ${installed} is missing from the install prefix ${prefix}; "
                        "it holds:\n  ${listing}")
  endif()
endforeach()

step("configure the consumer project (find_package(ferry CONFIG REQUIRED))" 300
  ${CMAKE_COMMAND} -S ${consumer_src} -B ${consumer_build} -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=${build_type}
    -DCMAKE_PREFIX_PATH=${prefix}
    -DEXAMPLES_DIR=${SOURCE_DIR}/examples ${launcher})
step("build embed_minimal against the installed ferry" 600
  ${CMAKE_COMMAND} --build ${consumer_build} --parallel ${jobs})

set(exe ${consumer_build}/embed_minimal)
if(NOT EXISTS ${exe})
  message(FATAL_ERROR "install test: the consumer build produced no ${exe}")
endif()
step("run embed_minimal --check" 60 ${exe} --check)
message(STATUS "install test: passed")
