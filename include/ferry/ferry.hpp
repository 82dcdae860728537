// Umbrella header: everything a host needs to compose a proxy in code.
#pragma once

#include <ferry/cluster.hpp>
#include <ferry/explain.hpp>
#include <ferry/filter.hpp>
#include <ferry/filter_chain.hpp>
#include <ferry/headers.hpp>
#include <ferry/listener.hpp>
#include <ferry/router.hpp>
#include <ferry/server.hpp>
#include <ferry/types.hpp>
#include <ferry/version.hpp>
