// tools/soak.h — `hotcore soak`: tasks from several threads (submit, submit_on, nested
// task groups, parallel_for) while worker cores go down and up at random; every task is
// counted by id, and any task lost or run twice fails the run.
#pragma once

// soak_main() runs `hotcore soak --seconds S [--churn-ms M] [--threads T]`. argv[0] is the
// command name ("soak"); options follow. It prints one line to stdout:
//   submitted N ran N lost 0 duplicated 0
// (details — core cycles, refused submissions — go to stderr) and returns 0 when every
// accepted task ran exactly once, 1 when one was lost or ran twice (or the runtime failed),
// 2 on a usage error.
int soak_main(int argc, char** argv);
