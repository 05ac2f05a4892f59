// SPDX-License-Identifier: Apache-2.0
// Sleeping and timeouts. Every waiting call has a bounded variant; while one coroutine
// sleeps or waits, its worker runs the others, so one worker is enough here.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <weft/weft.hpp>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

long ms_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

}  // namespace

int main() {
  weft::Scheduler sched({.workers = 1});
  const int failures = sched.run([] {
    int bad = 0;
    const Clock::time_point t0 = Clock::now();

    // Three sleepers on one worker overlap: the whole takes ~30 ms, not 60.
    std::vector<weft::Task<void>> sleepers;
    for (auto d : {10ms, 20ms, 30ms}) sleepers.push_back(weft::spawn([d] { weft::sleep_for(d); }));
    for (auto& s : sleepers) s.join();
    const long slept = ms_between(t0, Clock::now());
    std::printf("three sleeps of 10, 20 and 30 ms overlapped: %ld ms in all\n", slept);
    bad += slept < 30;

    // A receive that gives up: nobody sends.
    weft::Channel<int> ch(1);
    const std::optional<int> v = ch.recv_for(20ms);
    std::printf("recv_for gave up after 20 ms: %s\n", v ? "got a value?" : "no value");
    bad += v.has_value();

    // An Event nobody sets: wait_for returns false.
    weft::Event never;
    const bool set = never.wait_for(15ms);
    std::printf("Event::wait_for: %s\n", set ? "set?" : "timed out");
    bad += set;

    // A pipe nobody writes to: wait_readable returns false at the timeout...
    int fds[2];
    if (pipe(fds) != 0) return bad + 1;
    const bool readable = weft::wait_readable(fds[0], 10ms);
    std::printf("wait_readable on an empty pipe: %s\n", readable ? "readable?" : "timed out");
    bad += readable;
    // ...and wakes as soon as another coroutine writes, long before the timeout.
    weft::Task<void> writer = weft::spawn([&] {
      weft::sleep_for(5ms);
      const char c = 'x';
      if (write(fds[1], &c, 1) != 1) std::perror("write");
    });
    const Clock::time_point t1 = Clock::now();
    const bool woke = weft::wait_readable(fds[0], 10s);
    writer.join();
    std::printf("wait_readable with a 10 s timeout woke after %ld ms\n",
                ms_between(t1, Clock::now()));
    bad += !woke;
    weft::close(fds[0]);
    weft::close(fds[1]);
    return bad;
  });
  return failures == 0 ? 0 : 1;
}
