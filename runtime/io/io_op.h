// SPDX-License-Identifier: MIT
// runtime/io/io_op.h — one io_uring operation of an io_context (what to issue, kept so it
// can be issued again on another core's ring, and its continuation), and op_queue, through
// which operations reach a core's ring from other threads.
#pragma once

#include <atomic>
#include <cstdint>

#include "hotcore/io_context.h"
#include "sched/closeable_stack.h"

namespace hotcore::detail {

enum class op_kind : std::uint8_t { read, write, recv, send, accept, poll };

struct io_op {
  op_kind kind = op_kind::read;
  int fd = -1;
  void* buf = nullptr;
  unsigned len = 0;
  int flags = 0;               // recv/send flags, poll events
  std::uint64_t offset = 0;    // read/write
  int result = 0;              // set when it completed
  io_callback done;
  io_op* next = nullptr;       // link in an op_queue or a local list
};

// op_queue hands operations to a core's ring from other threads; closed while the core has
// no ring, so nothing lands where nobody drains it. The owner reverses what it takes
// (reverse_list) to issue oldest first.
using op_queue = closeable_stack<io_op>;

}  // namespace hotcore::detail
