// SPDX-License-Identifier: MIT
/// @file
/// hotcore/hotcore.h — everything public in one include.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include "hotcore/arena.h"
#include "hotcore/cgroup.h"
#include "hotcore/core_poller.h"
#include "hotcore/instance.h"
#include "hotcore/io_context.h"
#include "hotcore/metrics.h"
#include "hotcore/parallel.h"
#include "hotcore/quota.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"
#include "hotcore/stats.h"
#include "hotcore/task.h"
#include "hotcore/task_group.h"
#include "hotcore/timers.h"
#include "hotcore/topology.h"
#include "hotcore/trace.h"
