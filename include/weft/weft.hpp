// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft — an M:N work-stealing scheduler of stackful coroutines.
/// Networking helpers are separate: `#include <weft/net.hpp>`.
#pragma once

#include "weft/channel.hpp"
#include "weft/condvar.hpp"
#include "weft/event.hpp"
#include "weft/io.hpp"
#include "weft/isolate.hpp"
#include "weft/mutex.hpp"
#include "weft/options.hpp"
#include "weft/parallel.hpp"
#include "weft/scheduler.hpp"
#include "weft/stats.hpp"
#include "weft/task.hpp"
#include "weft/task_group.hpp"
#include "weft/this_coroutine.hpp"
#include "weft/time.hpp"
#include "weft/unhandled.hpp"
#include "weft/version.hpp"
#include "weft/wait_group.hpp"
