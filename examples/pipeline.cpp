// SPDX-License-Identifier: Apache-2.0
// A channel pipeline: a producer feeds numbers into a bounded channel, N workers square
// them into a second channel, and a collector sums the results. Closing a channel is how
// each stage tells the next one it is done: recv() returns std::nullopt once the channel
// is closed and drained, so nothing sent before the close is lost.
#include <cstdio>
#include <vector>
#include <weft/weft.hpp>

int main() {
  constexpr long kItems = 1000;
  constexpr int kWorkers = 4;
  weft::Scheduler sched({.workers = 4});

  const long sum = sched.run([] {
    // Small capacities keep the stages in step: a full channel suspends the sender.
    weft::Channel<long> numbers(16);
    weft::Channel<long> squares(16);

    weft::Task<void> producer = weft::spawn([&] {
      for (long i = 1; i <= kItems; ++i) numbers.send(i);
      numbers.close();  // the workers drain what is left, then see std::nullopt
    });

    // The last worker to finish closes `squares`; the WaitGroup says when that is.
    weft::WaitGroup running;
    running.add(kWorkers);
    std::vector<weft::Task<void>> workers;
    for (int w = 0; w < kWorkers; ++w) {
      workers.push_back(weft::spawn([&] {
        while (std::optional<long> n = numbers.recv()) squares.send(*n * *n);
        running.done();
      }));
    }
    weft::Task<void> closer = weft::spawn([&] {
      running.wait();
      squares.close();
    });

    long total = 0, count = 0;
    while (std::optional<long> s = squares.recv()) {
      total += *s;
      ++count;
    }
    producer.join();
    for (auto& t : workers) t.join();
    closer.join();
    std::printf("collected %ld results, sum of squares %ld\n", count, total);
    return total;
  });
  // 1^2 + ... + n^2 = n(n+1)(2n+1)/6
  return sum == kItems * (kItems + 1) * (2 * kItems + 1) / 6 ? 0 : 1;
}
