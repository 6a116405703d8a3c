// hotcore/hotcore.h — everything public in one include.
#pragma once

<<<<<<< HEAD
#include "hotcore/arena.h"
=======
#include "hotcore/core_poller.h"
>>>>>>> main
#include "hotcore/instance.h"
#include "hotcore/parallel.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"
#include "hotcore/task.h"
#include "hotcore/task_group.h"
#include "hotcore/topology.h"
#include "hotcore/trace.h"
