// SPDX-License-Identifier: MIT
// hotcore/detail/task_node.h — the machinery behind hotcore/task.h (not part of the public
// contract): the task node, its per-type operations and make_task().
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace hotcore {
namespace detail {

struct group_state;
struct task_node;

// task_ops is the per-callable-type behaviour of a node: run it (and destroy the callable,
// also when it throws), or destroy it without running it.
struct task_ops {
  void (*run)(task_node*);
  void (*drop)(task_node*) noexcept;
};

// task_node is what the queues hold: one 128-byte block with a 96-byte inline buffer.
// Nodes come from a per-thread cache (task_alloc/task_free), so in steady state a task
// whose callable fits the buffer costs no malloc at all.
struct alignas(64) task_node {
  static constexpr std::size_t storage_size = 96;
  static constexpr std::size_t storage_align = 16;
  static constexpr std::uint32_t root = 1;  // from submit()/submit_on(): counted for shutdown

  task_node* next = nullptr;        // link in an injection queue (owned by the queue)
  const task_ops* ops = nullptr;
  group_state* group = nullptr;     // the task_group it belongs to, or null
  std::uint32_t flags = 0;
  alignas(storage_align) unsigned char storage[storage_size];
};
static_assert(sizeof(task_node) == 128, "a task node is two cache lines");

// task_alloc() returns raw memory for one node from the calling thread's cache (or the
// heap); task_free() gives it back. Both are thread-safe; any thread may free any node.
[[nodiscard]] void* task_alloc();
void task_free(task_node* node) noexcept;

template <class Fn>
constexpr bool fits_inline = sizeof(Fn) <= task_node::storage_size &&
                             alignof(Fn) <= task_node::storage_align;

// inline_ops: the callable is stored in the node's buffer.
template <class Fn>
struct inline_ops {
  static Fn* get(task_node* n) noexcept {
    return std::launder(reinterpret_cast<Fn*>(n->storage));
  }
  static void run(task_node* n) {
    Fn* fn = get(n);
    struct destroy_after {
      Fn* fn;
      ~destroy_after() { fn->~Fn(); }
    } guard{fn};
    (*fn)();
  }
  static void drop(task_node* n) noexcept { get(n)->~Fn(); }
  static constexpr task_ops ops{&run, &drop};
};

// heap_ops: the buffer holds a pointer to a heap-allocated callable (too big or too
// strictly aligned for the buffer).
template <class Fn>
struct heap_ops {
  static Fn*& slot(task_node* n) noexcept {
    return *std::launder(reinterpret_cast<Fn**>(n->storage));
  }
  static void run(task_node* n) {
    std::unique_ptr<Fn> fn(slot(n));
    (*fn)();
  }
  static void drop(task_node* n) noexcept { delete slot(n); }
  static constexpr task_ops ops{&run, &drop};
};

// make_task() moves (or, for an lvalue, copies) the callable into a new node, once; the
// node never copies or moves it again. Throws std::bad_alloc, or what the callable's
// constructor throws (the node is freed then).
template <class F>
[[nodiscard]] task_node* make_task(F&& f) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "a task is a callable taking no arguments");
  void* mem = task_alloc();
  task_node* n = ::new (mem) task_node;
  try {
    if constexpr (fits_inline<Fn>) {
      ::new (static_cast<void*>(n->storage)) Fn(std::forward<F>(f));
      n->ops = &inline_ops<Fn>::ops;
    } else {
      Fn* heap = new Fn(std::forward<F>(f));
      ::new (static_cast<void*>(n->storage)) Fn*(heap);
      n->ops = &heap_ops<Fn>::ops;
    }
  } catch (...) {
    task_free(n);
    throw;
  }
  return n;
}

}  // namespace detail

}  // namespace hotcore
