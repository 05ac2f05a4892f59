// SPDX-License-Identifier: Apache-2.0
// weft::isolate / isolate_exec / Process: children in their own namespaces, waited on
// through a pidfd without blocking a worker. CI runs as root; a test that needs a
// privilege it lacks skips and says why.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

bool can_create_namespaces() {
  // The suite's premise: as root in this container, `unshare --net --pid ...` works.
  return ::geteuid() == 0;
}

#define REQUIRE_ROOT() \
  if (!can_create_namespaces()) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) to create namespaces"

// Children of this process in state Z (zombies), from /proc.
int zombie_children() {
  int n = 0;
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    const auto rp = line.rfind(')');
    if (rp == std::string::npos) continue;
    std::istringstream rest(line.substr(rp + 2));
    char state = 0;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == ::getpid() && state == 'Z') ++n;
  }
  ::closedir(d);
  return n;
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

TEST(Isolate, PidNamespaceChildIsPid1WithItsOwnProc) {
  REQUIRE_ROOT();
  weft::Process p = weft::isolate({.pid = true, .mount = true}, [] {
    if (::getpid() != 1) return 2;
    char link[32] = {};
    // The private /proc belongs to the new namespace: /proc/self is "1" there.
    if (::readlink("/proc/self", link, sizeof link - 1) < 0 || std::strcmp(link, "1") != 0)
      return 3;
    return 0;
  });
  EXPECT_TRUE(p.pid() > 1);
  EXPECT_EQ(weft::to_string(p.wait()), "exit 0");
}

TEST(Isolate, UtsHostnameDiffersInsideAndParentsIsUnchanged) {
  REQUIRE_ROOT();
  const std::string before = host_name();
  weft::Process p =
      weft::isolate({.uts = true, .hostname = "weft-isolated", .capture_stdout = true}, [] {
        std::printf("%s\n", host_name().c_str());
        return 0;
      });
  EXPECT_EQ(p.read_stdout(), "weft-isolated\n");
  EXPECT_TRUE(p.wait().exited_with(0));
  EXPECT_EQ(host_name(), before);
  EXPECT_NE(before, "weft-isolated");
}

TEST(Isolate, NetNamespaceHasOnlyLoopbackAndItIsUp) {
  REQUIRE_ROOT();
  weft::Process p = weft::isolate({.net = true, .capture_stdout = true}, [] {
    struct if_nameindex* ifs = ::if_nameindex();
    if (!ifs) return 2;
    for (struct if_nameindex* i = ifs; i->if_index != 0; ++i) std::printf("%s ", i->if_name);
    ::if_freenameindex(ifs);
    const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "lo");
    if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return 3;
    std::printf("%s\n", (ifr.ifr_flags & IFF_UP) ? "up" : "down");
    return 0;
  });
  EXPECT_EQ(p.read_stdout(), "lo up\n");
  EXPECT_TRUE(p.wait().exited_with(0));
}

TEST(Isolate, MountInsideIsInvisibleOutside) {
  REQUIRE_ROOT();
  char dir[] = "weft_isolate_mnt_XXXXXX";  // in the build tree: /tmp is private inside
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = dir;
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  weft::Process p = weft::isolate({.mount = true, .capture_stdout = true}, [&] {
    ::close(go[1]);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, nullptr) != 0) return 2;
    if (!std::ofstream(path + "/marker").good()) return 3;
    if (!std::ofstream("/tmp/weft_isolate_marker").good()) return 4;
    std::printf("mounted\n");
    std::fflush(stdout);
    pollfd pf{go[0], POLLIN, 0};
    ::poll(&pf, 1, 10000);  // until the parent has looked (it closes its end)
    return 0;
  });
  ::close(go[0]);
  std::string line;
  char c;
  while (line.find('\n') == std::string::npos) {
    ASSERT_TRUE(weft::wait_readable(p.stdout_fd(), 5s));
    const ssize_t n = ::read(p.stdout_fd(), &c, 1);
    ASSERT_EQ(n, 1);
    line += c;
  }
  EXPECT_EQ(line, "mounted\n");
  // The child is alive with its tmpfs mounted: the parent sees neither file.
  struct stat st {};
  EXPECT_NE(::stat((path + "/marker").c_str(), &st), 0);
  EXPECT_NE(::stat("/tmp/weft_isolate_marker", &st), 0);
  ::close(go[1]);
  EXPECT_TRUE(p.wait().exited_with(0));
  ::rmdir(dir);
}

// Runs `f` in a child that has dropped root (uid/gid 65534): the unprivileged view.
// Returns the child's status; 77 means "skip" by convention of the callers.
template <class F>
weft::ExitStatus as_nobody(F f) {
  weft::Process p = weft::isolate({.capture_stderr = true}, [f] {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) return 78;
    // setuid() made this process non-dumpable, which leaves its /proc files (uid_map
    // included) owned by root; a plain unprivileged process is dumpable.
    ::prctl(PR_SET_DUMPABLE, 1);
    return f();
  });
  const std::string err = p.read_stderr();
  if (!err.empty()) std::fprintf(stderr, "child: %s", err.c_str());
  return p.wait();
}

TEST(Isolate, UserNamespaceWithoutRootMapsCallerToRoot) {
  REQUIRE_ROOT();  // to drop to an unprivileged user in a child
  SKIP_UNDER_EMULATOR("unshare(CLONE_NEWUSER) refuses qemu-user's multi-threaded process");
  if (weft_test::kUnderTsan)
    GTEST_SKIP()
        << "TSan cannot start threads in a fork()ed child of a multi-threaded "
           "process, and the nested isolate() needs the child's launcher thread (the CTest "
           "weft_isolate_tool checks this case through an exec'd weft-isolate)";
  const weft::ExitStatus s = as_nobody([] {
    try {
      weft::Process inner =
          weft::isolate({.net = true, .uts = true, .user = true, .hostname = "unpriv"}, [] {
            if (::getuid() != 0 || ::getgid() != 0) return 2;
            return host_name() == "unpriv" ? 0 : 3;
          });
      return inner.wait().exited_with(0) ? 0 : 4;
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return e.code().value() == EPERM || e.code().value() == ENOSPC ? 77 : 5;
    }
  });
  if (s.exited_with(77)) GTEST_SKIP() << "this kernel does not allow unprivileged user namespaces";
  EXPECT_EQ(weft::to_string(s), "exit 0");
}

TEST(Isolate, EpermNamesTheNamespaceAndTheCause) {
  REQUIRE_ROOT();
  if (weft_test::kUnderTsan)
    GTEST_SKIP()
        << "TSan cannot start threads in a fork()ed child of a multi-threaded "
           "process, and the nested isolate() needs the child's launcher thread (the CTest "
           "weft_isolate_tool checks this case through an exec'd weft-isolate)";
  const weft::ExitStatus s = as_nobody([] {
    try {
      weft::Process inner = weft::isolate({.net = true}, [] { return 0; });
      return 2;  // made a net namespace without privilege
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      const std::string what = e.what();
      if (e.code().value() != EPERM) return 3;
      if (what.find("net namespace") == std::string::npos) return 4;
      if (what.find("CAP_SYS_ADMIN") == std::string::npos) return 5;
      return zombie_children() == 0 ? 0 : 6;  // the failed child was reaped
    }
  });
  EXPECT_EQ(weft::to_string(s), "exit 0");
}

TEST(Isolate, ExitCodesSignalsAndExceptionsPropagate) {
  REQUIRE_ROOT();
  EXPECT_EQ(weft::isolate(
                {}, [](int x) { return x; }, 42)
                .wait(),
            (weft::ExitStatus{false, 42}));
  EXPECT_TRUE(weft::isolate({.ipc = true}, [] {}).wait().exited_with(0));

  weft::Process thrower = weft::isolate(
      {.capture_stderr = true}, []() -> int { throw std::runtime_error("boom from the child"); });
  EXPECT_NE(thrower.read_stderr().find("boom from the child"), std::string::npos);
  EXPECT_TRUE(thrower.wait().exited_with(1));

  EXPECT_TRUE(weft::isolate({}, [] { ::raise(SIGABRT); }).wait().killed_by(SIGABRT));

  for (bool pidns : {false, true}) {
    SCOPED_TRACE(pidns ? "with a pid namespace (relay)" : "without a pid namespace");
    weft::Process sleeper = weft::isolate({.pid = pidns}, [] {
      ::sleep(30);
      return 0;
    });
    EXPECT_FALSE(sleeper.wait_for(20ms).has_value());
    EXPECT_TRUE(sleeper.kill(SIGTERM));
    EXPECT_EQ(weft::to_string(sleeper.wait()), "signal SIGTERM");
    EXPECT_FALSE(sleeper.kill(SIGTERM));  // reaped: nothing to signal
  }

  // An external command: its exit code; one that cannot run throws, naming it.
  EXPECT_TRUE(weft::isolate_exec({.pid = true}, {"sh", "-c", "exit 7"}).wait().exited_with(7));
  try {
    weft::isolate_exec({.net = true}, {"/nonexistent/weft-command"});
    ADD_FAILURE() << "exec of a missing command did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/weft-command"), std::string::npos);
  }
  EXPECT_THROW(weft::isolate({.hostname = "x"}, [] {}), std::invalid_argument);
  EXPECT_EQ(zombie_children(), 0);
}

// Lines of /proc/self/cgroup whose path is not the root "/".
std::string cgroups_below_root() {
  std::ifstream f("/proc/self/cgroup");
  std::string line, out;
  while (std::getline(f, line))
    if (line.size() < 2 || line.compare(line.size() - 2, 2, ":/") != 0) out += line + "\n";
  return out;
}

TEST(Isolate, CgroupNamespaceRootsTheCgroupView) {
  REQUIRE_ROOT();
  if (cgroups_below_root().empty())
    GTEST_SKIP() << "this process's cgroups are all at the root already: nothing to see";
  weft::Process p = weft::isolate({.cgroup = true, .capture_stdout = true}, [] {
    std::printf("%s", cgroups_below_root().c_str());
    return 0;
  });
  // Inside its own cgroup namespace every cgroup of the process is the namespace's root.
  EXPECT_EQ(p.read_stdout(), "");
  EXPECT_TRUE(p.wait().exited_with(0));
}

TEST(Isolate, SetupFailuresThrowNamingTheStepAndLeaveNoChild) {
  REQUIRE_ROOT();
  const std::string too_long(200, 'h');  // over HOST_NAME_MAX: sethostname fails, EINVAL
  for (bool pidns : {false, true}) {
    SCOPED_TRACE(pidns ? "reported by PID 1 through the relay" : "reported by the child");
    try {
      weft::isolate({.pid = pidns, .uts = true, .hostname = too_long}, [] { return 0; });
      ADD_FAILURE() << "an impossible hostname did not throw";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EINVAL);
      EXPECT_NE(std::string(e.what()).find("sethostname (uts namespace)"), std::string::npos)
          << e.what();
    }
  }
  // An argument whose copy throws: the exception comes out of isolate() itself, before
  // any child exists.
  struct Throws {
    Throws() = default;
    Throws(const Throws&) { throw std::runtime_error("copying the argument"); }
  };
  EXPECT_THROW(weft::isolate(
                   {}, [](const Throws&) { return 0; }, Throws{}),
               std::runtime_error);
  EXPECT_EQ(zombie_children(), 0);
}

TEST(Isolate, DestroyingARunningProcessKillsAndReapsIt) {
  REQUIRE_ROOT();
  for (bool pidns : {false, true}) {
    pid_t pid;
    const auto start = std::chrono::steady_clock::now();
    {
      weft::Process p = weft::isolate({.pid = pidns}, [] {
        ::sleep(30);
        return 0;
      });
      pid = p.pid();
      ASSERT_EQ(::kill(pid, 0), 0);
    }
    // Killed, not waited for: the child would sleep 30 s.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    // Reaped: the pid no longer exists (not even as a zombie).
    errno = 0;
    EXPECT_EQ(::kill(pid, 0), -1);
    EXPECT_EQ(errno, ESRCH);
  }
  EXPECT_EQ(zombie_children(), 0);
}

TEST(Isolate, HundredChildrenWaitedOnByCoroutinesWithoutBlockingWorkers) {
  REQUIRE_ROOT();
  const int n = weft_test::scaled(100, 20, 50);
  weft::Scheduler sched({.workers = 2});
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  std::atomic<int> launched{0};
  std::atomic<int> ticks{0};
  std::vector<weft::Task<weft::ExitStatus>> waiters;
  for (int i = 0; i < n; ++i) {
    waiters.push_back(sched.spawn([&, i] {
      weft::Process p = weft::isolate({.pid = true, .uts = true, .ipc = true}, [&, i] {
        // One byte per child releases it (a hang-up would not come: every child and
        // relay inherits the write end).
        pollfd pf{go[0], POLLIN, 0};
        char byte;
        if (::poll(&pf, 1, 10000) != 1 || ::read(go[0], &byte, 1) != 1) return 99;
        return i % 100;  // 99 above: never released
      });
      launched.fetch_add(1);
      return p.wait();  // suspends the coroutine only
    }));
  }
  // Every child is up and every waiter suspended on its pidfd before this coroutine runs
  // its ticks: if a wait() blocked its worker, 2 of them would starve it and the children
  // would stay unreleased until their 10 s limit (exit 99).
  auto ticker = sched.spawn([&] {
    while (launched.load() < n) weft::sleep_for(1ms);
    for (int k = 0; k < 20; ++k) {
      weft::sleep_for(1ms);
      ticks.fetch_add(1);
    }
    const std::string bytes(static_cast<size_t>(n), 'x');
    return ::write(go[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  });
  EXPECT_TRUE(ticker.join());
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(weft::to_string(waiters[static_cast<size_t>(i)].join()),
              "exit " + std::to_string(i % 100));
  ::close(go[0]);
  ::close(go[1]);
  EXPECT_EQ(ticks.load(), 20);
  EXPECT_EQ(zombie_children(), 0);
}

#if defined(WEFT_ECHO_BIN) && defined(WEFT_ECHO_LOAD_BIN)
TEST(Isolate, TwoEchoServersOnPort7007InTwoNetNamespaces) {
  REQUIRE_ROOT();
  // The go pipe's read end survives exec (the scripts wait on it), its write end does not.
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::fcntl(go[1], F_SETFD, FD_CLOEXEC), 0);
  const int rounds = weft_test::scaled(300, 50, 100);
  const std::string script =
      weft_test::kEmulatorPrefix + std::string("'") + WEFT_ECHO_BIN +
      "' --port 7007 --workers 1 >/tmp/echo.log 2>&1 & s=$!\n" +
      "i=0; until grep -q listening /tmp/echo.log; do i=$((i+1)); [ $i -gt 200 ] && exit 90; "
      "sleep 0.05; done\n"
      "echo up\n"
      "read x </dev/fd/" +
      std::to_string(go[0]) + "\n" + weft_test::kEmulatorPrefix + "'" + WEFT_ECHO_LOAD_BIN +
      "' --port 7007 --connections 8 --rounds " + std::to_string(rounds) +
      " --size 100 --workers 1 --limit-s 60 >&2; rc=$?\n"
      "kill -TERM $s; wait $s || exit 91\nexit $rc\n";
  const weft::IsolateOptions opts{.net = true, .mount = true, .capture_stdout = true};
  weft::Process a = weft::isolate_exec(opts, {"sh", "-c", script});
  weft::Process b = weft::isolate_exec(opts, {"sh", "-c", script});
  ::close(go[0]);
  // Both servers listen on 127.0.0.1:7007 at once before either load starts.
  for (weft::Process* p : {&a, &b}) {
    std::string line;
    char c;
    while (line.find('\n') == std::string::npos) {
      ASSERT_TRUE(weft::wait_readable(p->stdout_fd(), 15s)) << "a server never came up";
      if (::read(p->stdout_fd(), &c, 1) != 1) break;
      line += c;
    }
    ASSERT_EQ(line, "up\n");
  }
  ::close(go[1]);
  EXPECT_EQ(weft::to_string(a.wait()), "exit 0");
  EXPECT_EQ(weft::to_string(b.wait()), "exit 0");
}
#endif

}  // namespace
