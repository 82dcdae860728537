// Precompiled header for the library: the heavy Boost headers every data-path file needs.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
