// SPDX-License-Identifier: Apache-2.0
// The workloads of weft-stress, one per file in tools/stress/, and their table.
#pragma once

#include <span>

#include "common.hpp"

namespace stress {

void run_spawn_tree(Round& r);  // spawn_tree.cpp
void run_threads(Round& r);     // threads.cpp
void run_yield(Round& r);       // yield.cpp
void run_mutex(Round& r);       // mutex.cpp
void run_channel(Round& r);     // channel.cpp
void run_signal(Round& r);      // signal.cpp
void run_timeouts(Round& r);    // timeouts.cpp
void run_pipe(Round& r);        // pipe.cpp
void run_mix(Round& r);         // mix.cpp
void run_dtor(Round& r);        // dtor.cpp
void run_contend(Round& r);     // contend.cpp
void run_destroy(Round& r);     // destroy.cpp
void run_io_busy(Round& r);     // io_busy.cpp
void run_fork_join(Round& r);   // fork_join.cpp

// Every workload, in the order --workload all runs them.
std::span<const Workload> workloads() noexcept;

}  // namespace stress
