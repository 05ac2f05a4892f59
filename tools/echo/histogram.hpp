// SPDX-License-Identifier: Apache-2.0
// Histogram: round-trip latencies of the load generator.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace weft_echo {

// ---------------------------------------------------------------------------------------
// Round-trip latency histogram in nanoseconds: exact below 64 ns, then 32 buckets per
// power of two (about 3% resolution) up to 2^40 ns; fixed size, so merging is cheap and
// memory does not grow with the number of rounds.
class Histogram {
 public:
  void add(std::uint64_t ns) noexcept {
    ns = std::min<std::uint64_t>(ns, (std::uint64_t{1} << 40) - 1);
    ++counts_[index(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }
  void merge(const Histogram& o) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max_ns() const noexcept { return max_; }
  // The q-quantile (0 < q <= 1): the middle of the bucket holding it.
  double quantile_ns(double q) const noexcept {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.999999);
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return midpoint(i);
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr std::size_t kBuckets = 35 * 32;

  static std::size_t index(std::uint64_t v) noexcept {
    if (v < 64) return static_cast<std::size_t>(v);
    const int msb = 63 - __builtin_clzll(v);
    const int shift = msb - 5;  // keeps the top 6 bits: v >> shift is in [32, 64)
    return static_cast<std::size_t>(shift) * 32 + static_cast<std::size_t>(v >> shift);
  }
  static double midpoint(std::size_t i) noexcept {
    if (i < 64) return static_cast<double>(i);
    const std::size_t shift = i / 32 - 1;
    const std::uint64_t lo = static_cast<std::uint64_t>(i - shift * 32) << shift;
    return static_cast<double>(lo) + static_cast<double>((std::uint64_t{1} << shift) - 1) / 2;
  }

  std::array<std::uint32_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace weft_echo
