// hotcore/hotcore.h — everything public in one include.
#pragma once

#include "hotcore/instance.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"
#include "hotcore/topology.h"
#include "hotcore/trace.h"
