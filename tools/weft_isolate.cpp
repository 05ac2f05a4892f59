// SPDX-License-Identifier: Apache-2.0
// weft-isolate: runs a command in its own Linux namespaces and passes its exit code through.
//
//   weft-isolate [--net] [--pid] [--mount] [--uts] [--ipc] [--user] [--cgroup]
//                [--hostname H] [--parallel N] -- CMD ARGS...
//
// --parallel N runs N copies at once, each in its own namespaces (say N loopback stress
// tests that all want port 7007), waits for them from N coroutines and prints each one's
// status; the exit code is then 0 if every copy exited 0, else the first failing copy's
// code (128 + the signal for a copy killed by a signal).
//
// Exit codes of its own: 125 for a setup error (the message names the step and the
// namespace), 2 for bad flags (CLI11's message and usage).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>
#include <weft/weft.hpp>

namespace {

int code_of(const weft::ExitStatus& s) {
  return s.signaled ? 128 + s.code_or_signal : s.code_or_signal;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-isolate: run a command in its own Linux namespaces", "weft-isolate"};
  weft::IsolateOptions opts;
  unsigned parallel = 1;
  std::vector<std::string> command;
  app.add_flag("--net", opts.net, "new network namespace (only lo, brought up)");
  app.add_flag("--pid", opts.pid, "new pid namespace (the command is PID 1)");
  app.add_flag("--mount", opts.mount,
               "new mount namespace with a private /tmp (and /proc with --pid)");
  app.add_flag("--uts", opts.uts, "new uts namespace (hostname)");
  app.add_flag("--ipc", opts.ipc, "new ipc namespace");
  app.add_flag("--user", opts.user, "new user namespace, the caller mapped to root");
  app.add_flag("--cgroup", opts.cgroup, "new cgroup namespace");
  app.add_option("--hostname", opts.hostname, "hostname inside (needs --uts)");
  app.add_option("--parallel", parallel, "run N copies at once")->check(CLI::Range(1u, 10000u));
  app.add_option("command", command, "the command and its arguments, after --")->required();
  app.positionals_at_end();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (!opts.hostname.empty() && !opts.uts) {
    std::fprintf(stderr, "weft-isolate: --hostname needs --uts\n");
    return 2;
  }

  try {
    if (parallel == 1) {
      // No scheduler needed: wait() on a plain thread blocks it.
      return code_of(weft::isolate_exec(opts, command).wait());
    }
    weft::Scheduler sched({.workers = 2});
    std::vector<weft::Task<weft::ExitStatus>> copies;
    for (unsigned i = 0; i < parallel; ++i)
      copies.push_back(sched.spawn([&] { return weft::isolate_exec(opts, command).wait(); }));
    int rc = 0;
    std::exception_ptr first_error;
    for (unsigned i = 0; i < parallel; ++i) {
      try {
        const weft::ExitStatus s = copies[i].join();
        std::printf("weft-isolate: copy %u: %s\n", i, weft::to_string(s).c_str());
        if (rc == 0 && code_of(s) != 0) rc = code_of(s);
      } catch (const std::exception& e) {
        std::printf("weft-isolate: copy %u: not started: %s\n", i, e.what());
        if (rc == 0) rc = 125;
      }
    }
    std::fflush(stdout);
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-isolate: %s\n", e.what());
    return 125;
  }
}
