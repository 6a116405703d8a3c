// SPDX-License-Identifier: MIT
// tools/json_mode.h — `--json` for every command of the `hotcore` program, errors included.
// While a command runs with --json its standard output is held in memory and each line it
// prints to stderr still goes there; when it ends, stdout gets one JSON document: the
// command's own, or its text lines as {"command": NAME, "lines": [...]} for a command with
// no JSON form of its own (demo, restore), or, when it fails, {"error": {"command",
// "errno", "name", "message"}} whose message is the last line it printed on stderr and
// whose errno is the one that line names (EINVAL for a usage error that names none, EIO
// for any other), with "output" holding whatever it had printed to stdout.
#pragma once

namespace hotcore::tools::json_mode {

// begin() starts holding stdout for command NAME (cli::parse() calls it when the command
// line has --json). false when it cannot (the command then runs as without it).
bool begin(const char* command);
// wrap_lines() says that the command's stdout is lines of text, to be sent as an array.
void wrap_lines();
[[nodiscard]] bool active();
// end() writes the document for the command's exit status to the real stdout, stops
// holding, and returns status.
int end(int status);

}  // namespace hotcore::tools::json_mode
