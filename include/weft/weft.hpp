// weft — an M:N work-stealing scheduler of stackful coroutines.
#pragma once

#include "weft/options.hpp"
#include "weft/scheduler.hpp"
#include "weft/stats.hpp"
#include "weft/task.hpp"
#include "weft/this_coroutine.hpp"
