// SPDX-License-Identifier: Apache-2.0
/// @file
/// Isolated work: run a function or a command in a child process with its own Linux
/// namespaces (pid, net, mount, uts, ipc, user, cgroup), and wait for it from a coroutine
/// without blocking a worker.
///
///   weft::IsolateOptions o{.pid = true, .net = true, .mount = true, .uts = true,
///                          .hostname = "box1"};
///   weft::Process p = weft::isolate(o, [] { return run_my_loopback_test(); });
///   weft::ExitStatus s = p.wait();  // in a coroutine: suspends only the coroutine
///
/// The child is a fork() of the calling process, made by weft's launcher thread (a plain
/// thread, so the child never inherits a worker's coroutine state), which then unshares the
/// namespaces `opts` names. With a new pid namespace it forks once more: that grandchild
/// is PID 1 of the namespace and runs `f` (or execs), and the first child relays its exit
/// status (see Process below and docs/DESIGN.md "Isolated runs").
///
/// The child runs f(args...) with weft's fork handling: schedulers of the parent are
/// unusable there, the default scheduler (weft::spawn) is a fresh one. It ends with
/// _exit() after flushing stdio: atexit handlers and static destructors copied from the
/// parent do not run in it. It inherits the parent's file descriptors, as after fork().
#pragma once

#include <sys/types.h>

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/io.hpp"

namespace weft {

/// Which namespaces an isolated child gets, and what it captures.
struct IsolateOptions {
  bool pid = false;             ///< new pid namespace: the child is PID 1 there
  bool net = false;             ///< new network namespace: only `lo`, brought up
  bool mount = false;           ///< new mount namespace, private propagation, a tmpfs on /tmp;
                                ///< with `pid` also a fresh /proc
  bool uts = false;             ///< new hostname and domain name
  bool ipc = false;             ///< new System V IPC and POSIX message queues
  bool user = false;            ///< new user namespace mapping the caller's uid/gid to root inside
  bool cgroup = false;          ///< new cgroup namespace
  std::string hostname = {};    ///< set inside when non-empty; requires `uts`
  bool capture_stdout = false;  ///< the child's stdout goes to a pipe: Process::stdout_fd()
  bool capture_stderr = false;  ///< the same for stderr: Process::stderr_fd()
};

/// How a child ended: exit(code) or a terminating signal.
struct ExitStatus {
  bool signaled = false;   ///< true: ended by a signal; false: exited
  int code_or_signal = 0;  ///< the exit code, or the signal number when `signaled`
  /// True when the child exited with `code`.
  bool exited_with(int code) const noexcept { return !signaled && code_or_signal == code; }
  /// True when the child was ended by signal `sig`.
  bool killed_by(int sig) const noexcept { return signaled && code_or_signal == sig; }
  /// Equal when both fields are.
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};
/// "exited with 3" or "killed by SIGKILL" (for messages).
std::string to_string(const ExitStatus& s);

/// A child made by isolate() or isolate_exec(). Move-only.
///
/// Destroying a Process whose child has not been reaped kills it with SIGKILL and reaps it
/// (with a pid namespace, the namespace's PID 1 dies with its relay, and every process in
/// the namespace with it): no child outlives its handle and none stays a zombie. Call
/// wait() first to let it finish.
class Process {
 public:
  Process() noexcept = default;
  ~Process();
  /// Takes over `o`'s child; `o` becomes empty.
  Process(Process&& o) noexcept;
  /// Kills and reaps the child this one holds, if any (as the destructor does), then takes
  /// over `o`'s.
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// The child's pid in the caller's pid namespace (with a pid namespace: the relay's).
  pid_t pid() const noexcept { return pid_; }
  /// The pidfd; readable once the child has exited. -1 when empty.
  int pidfd() const noexcept { return pidfd_; }
  /// True while this holds a child (not default-constructed or moved from).
  bool valid() const noexcept { return pid_ > 0; }

  /// Waits for the child and reaps it. In a coroutine it suspends only the coroutine (the
  /// pidfd goes through the poller); on a plain thread it blocks. Returns the same status
  /// again when called after the child was reaped. Throws std::logic_error when empty.
  ExitStatus wait();
  /// The same with a timeout: std::nullopt when the child is still running.
  std::optional<ExitStatus> wait_for(Timeout timeout);
  /// Sends `sig` (pidfd_send_signal, so never to a recycled pid). Returns false once the
  /// child has been reaped. With a pid namespace the relay passes SIGHUP, SIGINT, SIGQUIT,
  /// SIGTERM, SIGUSR1, SIGUSR2 and SIGALRM on as SIGKILL to PID 1 (which ignores signals it
  /// has no handler for), and then ends by `sig` itself, so wait() reports `sig`.
  bool kill(int sig);

  /// The read ends of the captured pipes (O_NONBLOCK; wait with weft::wait_readable), or -1.
  /// Owned by the Process; drain them while the child runs, a full pipe blocks its writes.
  int stdout_fd() const noexcept { return out_; }
  /// The same for stderr.
  int stderr_fd() const noexcept { return err_; }
  /// Reads the captured stdout (stderr) to EOF: suspends only a coroutine.
  std::string read_stdout();
  /// The same for stderr.
  std::string read_stderr();

 private:
  friend Process launch_isolated(const IsolateOptions&, std::function<int()>,
                                 const std::vector<std::string>*);
  void release() noexcept;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::optional<ExitStatus> status_;
};

/// Internal: starts the child, running `f` or exec'ing `argv` (exactly one is given).
Process launch_isolated(const IsolateOptions& opts, std::function<int()> f,
                        const std::vector<std::string>* argv);

/// Runs f(args...) in an isolated child (see above) and returns its handle once the child's
/// namespaces are set up. The child's exit status is f's return value (0 for void), or 1
/// with the message of an escaping exception on stderr.
/// `f` and `args` are decay-copied into the child's closure, which must be copyable.
///
/// Throws std::invalid_argument for inconsistent options (a hostname without `uts`), and
/// std::system_error naming the step, the namespace and the usual cause when the setup
/// fails (clone/fork, unshare EPERM, the uid map, mounting /proc or /tmp, the hostname,
/// bringing `lo` up); no half-made child is left: it has exited and been reaped.
template <class F, class... A>
Process isolate(const IsolateOptions& opts, F&& f, A&&... args) {
  auto call = [f = std::forward<F>(f), ... args = std::forward<A>(args)]() mutable -> int {
    using R = std::invoke_result_t<F&, A&...>;
    if constexpr (std::is_void_v<R>) {
      std::invoke(f, args...);
      return 0;
    } else {
      return static_cast<int>(std::invoke(f, args...));
    }
  };
  return launch_isolated(opts, std::function<int()>(std::move(call)), nullptr);
}

/// The same for an external command: execvp(argv[0], argv) in the child. A command that
/// cannot be executed (not found, not executable) throws std::system_error here, naming it.
Process isolate_exec(const IsolateOptions& opts, const std::vector<std::string>& argv);

}  // namespace weft
