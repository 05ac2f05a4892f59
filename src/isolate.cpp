// SPDX-License-Identifier: Apache-2.0
// weft::isolate / isolate_exec: children in their own namespaces, waited on through a
// pidfd. See include/weft/isolate.hpp and docs/DESIGN.md "Isolated runs".
#include "weft/isolate.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "weft/event.hpp"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace weft {
namespace {

// What a child that failed its setup writes to the report pipe before _exit(127). One
// write of less than PIPE_BUF bytes, so the parent reads it whole or not at all.
struct Report {
  int err;
  char what[250];
};

// Everything the child needs, prepared in the parent so the child only makes syscalls.
struct Plan {
  IsolateOptions opts;
  std::function<int()> f;
  std::vector<std::string> args;
  std::vector<char*> argv;  // into `args`, null-terminated; empty for isolate(f)
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t parent = 0;
};

[[noreturn]] void fail(int fd, int err, const char* what) {
  Report r{};
  r.err = err;
  std::snprintf(r.what, sizeof r.what, "%s", what);
  [[maybe_unused]] const ssize_t n = ::write(fd, &r, sizeof r);
  _exit(127);
}

bool write_file(const char* path, const char* text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const auto len = static_cast<ssize_t>(std::strlen(text));
  const bool ok = ::write(fd, text, static_cast<size_t>(len)) == len;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

void bring_lo_up(int report) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(report, errno, "socket() to bring up lo in the net namespace");
  struct ifreq ifr {};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "lo");
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) fail(report, errno, "SIOCGIFFLAGS lo (net namespace)");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
    fail(report, errno, "SIOCSIFFLAGS lo up (net namespace)");
  ::close(s);
}

// In the process that runs f or execs (PID 1 of a new pid namespace when there is one).
[[noreturn]] void run_final(Plan& p, int report, int out_w, int err_w) {
  const IsolateOptions& o = p.opts;
  if (o.mount) {
    // Private propagation first: without it the tmpfs below (and any mount f makes) would
    // propagate back into the parent's namespace through shared mounts.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      fail(report, errno, "mount --make-rprivate / (mount namespace)");
    if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
      fail(report, errno, "mount tmpfs on /tmp (mount namespace)");
    if (o.pid && ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      fail(report, errno, "mount proc on /proc (pid + mount namespaces)");
  }
  if (!o.hostname.empty() && ::sethostname(o.hostname.data(), o.hostname.size()) != 0)
    fail(report, errno, "sethostname (uts namespace)");
  if (o.net) bring_lo_up(report);
  if (out_w >= 0 && ::dup2(out_w, STDOUT_FILENO) < 0) fail(report, errno, "dup2 stdout pipe");
  if (err_w >= 0 && ::dup2(err_w, STDERR_FILENO) < 0) fail(report, errno, "dup2 stderr pipe");
  if (out_w >= 0) ::close(out_w);
  if (err_w >= 0) ::close(err_w);
  if (!p.argv.empty()) {
    ::execvp(p.argv[0], p.argv.data());
    char what[200];
    std::snprintf(what, sizeof what, "execvp %s", p.argv[0]);
    fail(report, errno, what);  // the report pipe is O_CLOEXEC: EOF means the exec worked
  }
  ::close(report);  // EOF: the setup is done, f starts
  int code = 1;
  try {
    code = p.f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft::isolate: the function threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "weft::isolate: the function threw a non-std exception\n");
  }
  std::fflush(nullptr);
  _exit(code);
}

// Signals the relay passes on to PID 1 of the namespace.
constexpr int kRelayed[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};

// The first child, after unshare(CLONE_NEWPID): forks PID 1 of the new namespace and
// ends as it ends. It takes the relayed signals through a signalfd (blocked, never
// handled: no handler runs in a forked child, and sanitizer runtimes that defer handlers
// cannot delay them) and waits on PID 1's pidfd and the signalfd together.
[[noreturn]] void relay(Plan& p, int report, int out_w, int err_w) {
  sigset_t relayed, old;
  sigemptyset(&relayed);
  for (int s : kRelayed) sigaddset(&relayed, s);
  sigprocmask(SIG_BLOCK, &relayed, &old);
  const pid_t c = ::fork();
  if (c < 0) fail(report, errno, "fork of PID 1 in the new pid namespace");
  if (c == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    // The relay is this process's only link to the parent's Process: if it dies (SIGKILL
    // from Process::kill or the destructor), the whole namespace goes with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    run_final(p, report, out_w, err_w);
  }
  // The relay needs no descriptor: dropping every inherited one (the report pipe and
  // the captured streams included) lets the parent see EOF and hang-ups as soon as PID 1
  // closes its copies. Before Linux 5.9 (no close_range) the ones we know of.
  if (::syscall(SYS_close_range, 0U, ~0U, 0U) != 0) {
    ::close(report);
    if (out_w >= 0) ::close(out_w);
    if (err_w >= 0) ::close(err_w);
  }
  const int sfd = ::signalfd(-1, &relayed, SFD_CLOEXEC);
  const int cfd = static_cast<int>(::syscall(SYS_pidfd_open, c, 0));
  int asked = 0;
  if (sfd >= 0 && cfd >= 0) {
    for (;;) {
      pollfd fds[2] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;  // EINTR (a stop/continue)
      if (fds[0].revents != 0) break;        // PID 1 has exited
      signalfd_siginfo si{};
      if (fds[1].revents != 0 && ::read(sfd, &si, sizeof si) == sizeof si) {
        // PID 1 of a pid namespace ignores signals it has no handler for, even from
        // outside (SIGKILL excepted): the request becomes SIGKILL, and the relay then
        // ends by the requested signal.
        asked = static_cast<int>(si.ssi_signo);
        ::kill(c, SIGKILL);
      }
    }
  }
  int st = 0;
  while (::waitpid(c, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
  int sig = WTERMSIG(st);
  if (sig == SIGKILL && asked != 0) sig = asked;
  struct rlimit no_core {
    0, 0
  };
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigprocmask(SIG_UNBLOCK, &one, nullptr);
  ::kill(::getpid(), sig);
  _exit(128 + sig);
}

[[noreturn]] void child_main(Plan& p, int report, int out_w, int err_w) {
  // Dies with the launcher thread (which lives as long as the process).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != p.parent) _exit(127);
  const IsolateOptions& o = p.opts;
  if (o.user) {
    // First, alone: the other namespaces are then created by root of this user
    // namespace, which needs no privilege outside.
    if (::unshare(CLONE_NEWUSER) != 0)
      fail(report, errno,
           "unshare(CLONE_NEWUSER): user namespace (unprivileged user namespaces disabled: "
           "kernel.unprivileged_userns_clone=0 or user.max_user_namespaces=0, or seccomp)");
    char map[64];
    std::snprintf(map, sizeof map, "0 %u 1\n", static_cast<unsigned>(p.uid));
    if (!write_file("/proc/self/uid_map", map))
      fail(report, errno,
           "write /proc/self/uid_map (user namespace; EACCES: a process that changed its "
           "uids is not dumpable, see prctl(PR_SET_DUMPABLE))");
    // An unprivileged writer may set gid_map only once setgroups is denied.
    if (!write_file("/proc/self/setgroups", "deny") && errno != ENOENT)
      fail(report, errno, "write /proc/self/setgroups");
    std::snprintf(map, sizeof map, "0 %u 1\n", static_cast<unsigned>(p.gid));
    if (!write_file("/proc/self/gid_map", map)) fail(report, errno, "write /proc/self/gid_map");
  }
  struct Ns {
    bool on;
    int flag;
    const char* what;
  };
  const Ns spaces[] = {
      {o.ipc, CLONE_NEWIPC, "unshare(CLONE_NEWIPC): ipc namespace"},
      {o.uts, CLONE_NEWUTS, "unshare(CLONE_NEWUTS): uts namespace"},
      {o.net, CLONE_NEWNET, "unshare(CLONE_NEWNET): net namespace"},
      {o.cgroup, CLONE_NEWCGROUP, "unshare(CLONE_NEWCGROUP): cgroup namespace"},
      {o.mount, CLONE_NEWNS, "unshare(CLONE_NEWNS): mount namespace"},
      {o.pid, CLONE_NEWPID, "unshare(CLONE_NEWPID): pid namespace"},
  };
  for (const Ns& ns : spaces) {
    if (!ns.on || ::unshare(ns.flag) == 0) continue;
    const int e = errno;
    char what[240];
    std::snprintf(what, sizeof what, "%s%s", ns.what,
                  e == EPERM ? " (needs root or CAP_SYS_ADMIN; without them set .user = true "
                               "where unprivileged user namespaces are allowed)"
                             : "");
    fail(report, e, what);
  }
  if (o.pid) relay(p, report, out_w, err_w);
  run_final(p, report, out_w, err_w);
}

// ---- the launcher thread ------------------------------------------------------------

struct Job {
  Plan* plan = nullptr;
  // Results, written by the launcher before done.set() (the Event orders them).
  pid_t pid = -1;
  int pidfd = -1;
  int report = -1;
  int out = -1;
  int err = -1;
  int error = 0;
  const char* step = "";
  Event done;
};

void close_if(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Runs on the launcher thread: every pipe of ours is created and its parent-side write
// end closed here, one fork at a time, so no child inherits another child's write end
// (which would hold that child's report pipe or stdout open past its exit).
void launch(Job& j) {
  int rep[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto give_up = [&](const char* step) {
    j.error = errno;
    j.step = step;
    for (int* fds : {rep, out, err}) close_if(fds[0]), close_if(fds[1]);
  };
  if (::pipe2(rep, O_CLOEXEC) != 0) return give_up("pipe2");
  if (j.plan->opts.capture_stdout && ::pipe2(out, O_CLOEXEC) != 0) return give_up("pipe2");
  if (j.plan->opts.capture_stderr && ::pipe2(err, O_CLOEXEC) != 0) return give_up("pipe2");
  j.plan->parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return give_up("fork");
  if (pid == 0) {
    ::close(rep[0]);
    if (out[0] >= 0) ::close(out[0]);
    if (err[0] >= 0) ::close(err[0]);
    child_main(*j.plan, rep[1], out[1], err[1]);
  }
  close_if(rep[1]);
  close_if(out[1]);
  close_if(err[1]);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    errno = e;
    return give_up("pidfd_open (Linux 5.3 or later)");
  }
  for (int fd : {out[0], err[0]})
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  ::fcntl(rep[0], F_SETFL, ::fcntl(rep[0], F_GETFL) | O_NONBLOCK);
  j.pid = pid;
  j.pidfd = pidfd;
  j.report = rep[0];
  j.out = out[0];
  j.err = err[0];
}

class Launcher {
 public:
  Launcher() : pid_(::getpid()), thread_([this] { loop(); }) { thread_.detach(); }

  // The launcher of this process; a new one in a fork()ed child (the parent's thread does
  // not exist there). Never destroyed: a child made by isolate() may call exit paths that
  // would run static destructors, and a joinable thread cannot be destroyed.
  static Launcher& get() {
    static std::atomic<Launcher*> current{nullptr};
    static std::mutex mu;
    Launcher* l = current.load(std::memory_order_acquire);
    if (l && l->pid_ == ::getpid()) return *l;
    std::lock_guard<std::mutex> g(mu);
    l = current.load(std::memory_order_relaxed);
    if (!l || l->pid_ != ::getpid()) {
      l = new Launcher;  // the old one (a parent's) is leaked on purpose
      current.store(l, std::memory_order_release);
    }
    return *l;
  }

  void submit(const std::shared_ptr<Job>& j) {
    {
      std::lock_guard<std::mutex> g(mu_);
      queue_.push_back(j);
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::shared_ptr<Job> j;
      {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait(g, [&] { return !queue_.empty(); });
        j = std::move(queue_.front());
        queue_.pop_front();
      }
      launch(*j);
      j->done.set();  // `j` keeps the Job alive past set() whatever the waiter does
    }
  }

  const pid_t pid_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::thread thread_;
};

// Reads until `n` bytes, EOF or an error; suspends only a coroutine.
size_t read_some(int fd, void* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, static_cast<char*>(buf) + got, n - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r == 0) {
      break;
    } else if (errno == EAGAIN) {
      wait_readable(fd);
    } else if (errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "weft::isolate: read");
    }
  }
  return got;
}

std::string read_all(int fd) {
  if (fd < 0) throw std::logic_error("weft::Process: that stream was not captured");
  std::string s;
  char buf[4096];
  for (;;) {
    const size_t n = read_some(fd, buf, sizeof buf);
    s.append(buf, n);
    if (n < sizeof buf) return s;
  }
}

ExitStatus decode(const siginfo_t& si) {
  if (si.si_code == CLD_EXITED) return {false, si.si_status};
  return {true, si.si_status};
}

}  // namespace

std::string to_string(const ExitStatus& s) {
  if (!s.signaled) return "exit " + std::to_string(s.code_or_signal);
  const char* name = sigabbrev_np(s.code_or_signal);
  return std::string("signal SIG") + (name ? name : std::to_string(s.code_or_signal).c_str());
}

Process launch_isolated(const IsolateOptions& opts, std::function<int()> f,
                        const std::vector<std::string>* argv) {
  if (!opts.hostname.empty() && !opts.uts)
    throw std::invalid_argument("weft::isolate: a hostname needs a uts namespace (.uts = true)");
  if (argv && argv->empty()) throw std::invalid_argument("weft::isolate_exec: empty argv");
  auto plan = std::make_unique<Plan>();
  plan->opts = opts;
  plan->f = std::move(f);
  if (argv) {
    plan->args = *argv;
    for (std::string& a : plan->args) plan->argv.push_back(a.data());
    plan->argv.push_back(nullptr);
  }
  plan->uid = ::getuid();
  plan->gid = ::getgid();

  auto job = std::make_shared<Job>();
  job->plan = plan.get();
  Launcher::get().submit(job);
  job->done.wait();  // suspends only a coroutine; the fork takes a moment
  if (job->error != 0)
    throw std::system_error(job->error, std::generic_category(),
                            std::string("weft::isolate: ") + job->step);

  Process p;
  p.pid_ = job->pid;
  p.pidfd_ = job->pidfd;
  p.out_ = job->out;
  p.err_ = job->err;
  // The child closes its end of the report pipe when the setup is done (exec closes it
  // through O_CLOEXEC); a failed setup writes one Report first and exits.
  Report r{};
  size_t got = 0;
  try {
    got = read_some(job->report, &r, sizeof r);
  } catch (...) {
    ::close(job->report);
    throw;  // ~Process kills and reaps the child
  }
  ::close(job->report);
  if (got == sizeof r) {
    p.wait();  // reap it: it has _exit(127)ed or is about to
    r.what[sizeof r.what - 1] = '\0';
    throw std::system_error(r.err, std::generic_category(),
                            std::string("weft::isolate: ") + r.what);
  }
  if (got != 0) {
    throw std::runtime_error("weft::isolate: the child died during its setup (short report)");
  }
  return p;
}

Process isolate_exec(const IsolateOptions& opts, const std::vector<std::string>& argv) {
  return launch_isolated(opts, nullptr, &argv);
}

// ---- Process ----------------------------------------------------------------------------

Process::~Process() {
  release();
}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::exchange(o.pidfd_, -1)),
      out_(std::exchange(o.out_, -1)),
      err_(std::exchange(o.err_, -1)),
      status_(std::exchange(o.status_, std::nullopt)) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    release();
    pid_ = std::exchange(o.pid_, -1);
    pidfd_ = std::exchange(o.pidfd_, -1);
    out_ = std::exchange(o.out_, -1);
    err_ = std::exchange(o.err_, -1);
    status_ = std::exchange(o.status_, std::nullopt);
  }
  return *this;
}

void Process::release() noexcept {
  if (pidfd_ >= 0) {
    if (!status_) {
      // The policy: kill and reap. SIGKILL cannot be caught, so the blocking waitid is
      // short; it never leaves a zombie behind.
      ::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
      siginfo_t si{};
      while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &si, WEXITED) <
                 0 &&
             errno == EINTR) {
      }
    }
    ::close(pidfd_);
  }
  // weft::close: wakes any coroutine still waiting on a captured stream.
  for (int* fd : {&out_, &err_}) {
    if (*fd >= 0) {
      try {
        weft::close(*fd);
      } catch (...) {
      }
    }
    *fd = -1;
  }
  pidfd_ = -1;
  pid_ = -1;
  status_.reset();
}

std::optional<ExitStatus> Process::wait_for(Timeout timeout) {
  if (status_) return status_;
  if (pidfd_ < 0) throw std::logic_error("weft::Process::wait on an empty Process");
  // The pidfd turns readable when the child exits: through the poller in a coroutine,
  // poll(2) on a plain thread.
  if (!wait_readable(pidfd_, timeout)) return std::nullopt;
  siginfo_t si{};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &si, WEXITED) < 0) {
    if (errno != EINTR)
      throw std::system_error(errno, std::generic_category(), "weft::Process: waitid");
  }
  status_ = decode(si);
  return status_;
}

ExitStatus Process::wait() {
  return *wait_for({});
}

bool Process::kill(int sig) {
  if (pidfd_ < 0 || status_) return false;
  if (::syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0) == 0) return true;
  if (errno == ESRCH) return true;  // exited, not yet reaped: wait() reports how
  throw std::system_error(errno, std::generic_category(), "weft::Process::kill");
}

std::string Process::read_stdout() {
  return read_all(out_);
}
std::string Process::read_stderr() {
  return read_all(err_);
}

}  // namespace weft
