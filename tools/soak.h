// SPDX-License-Identifier: MIT
// tools/soak.h — `hotcore soak`: tasks from several threads (submit, submit_on, nested
// task groups, parallel_for) while worker cores go down and up at random; every task is
// counted by id, and any task lost or run twice fails the run.
#pragma once

// soak_options configures one run (tools/hotcore.cpp fills it from the command line).
struct soak_options {
  long seconds = 10;
  long churn_ms = 5;  // 0: no churn
  long threads = 3;   // submitting threads
  bool follow = false;  // the runtime follows the kernel's CPU hotplug
  bool json = false;    // print the counts as one JSON object instead of the line
};

// run_soak() runs `hotcore soak`. It prints one line to stdout:
//   submitted N ran N lost 0 duplicated 0
// (details — core cycles, refused submissions — go to stderr) and returns 0 when every
// accepted task ran exactly once, 1 when one was lost or ran twice (or the runtime failed).
int run_soak(const soak_options& opts);
