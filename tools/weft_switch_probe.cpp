// SPDX-License-Identifier: Apache-2.0
// weft-switch-probe: the AArch64 switcher (asm/switch_aarch64.S) in isolation, in a way
// that means something under qemu, where times do not.
//  - Instructions per round trip: weft_switch is straight-line code (one conditional
//    branch, which skips the FPCR write when both contexts have the same FPCR), A64
//    instructions are 4 bytes, and weft_switch_end marks its end: the count is read from
//    the code itself, and a round trip (A to B and back) runs it twice.
//  - That the callee-saved FP state survives: context A loads a pattern into d8-d15 and
//    an FPCR of its own, switches to B, which overwrites all of them and switches back;
//    A then reads d8-d15 and FPCR and checks every bit. Repeated with B's FPCR equal to
//    A's (the branch that skips the write) and different.
//  - The time per round trip (steady_clock over --rounds round trips): on real hardware
//    only; under emulation it measures qemu.
// Exit status 0 when every check passes, 1 otherwise.
//   weft-switch-probe [--rounds N]
#include <sys/mman.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "arch.hpp"

extern "C" void weft_switch_end();

namespace {

constexpr std::size_t kStack = 64 * 1024;

void* a_sp = nullptr;  // A (the main thread's context) while B runs
void* b_sp = nullptr;  // B while A runs

// B's FPCR and d8-d15 for the next visit: written by A before each switch.
std::uint64_t b_fpcr = 0;
std::uint64_t b_pattern[8];

// B: clobbers d8-d15 and FPCR with its own values, then switches back; forever.
[[noreturn]] void bounce(void*) {
  for (;;) {
    asm volatile(
        "ldp d8, d9, [%[p], #0]\n\t"
        "ldp d10, d11, [%[p], #16]\n\t"
        "ldp d12, d13, [%[p], #32]\n\t"
        "ldp d14, d15, [%[p], #48]\n\t"
        "msr fpcr, %[f]\n\t" ::[p] "r"(b_pattern),
        [f] "r"(b_fpcr)
        : "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15", "memory");
    weft_switch(&b_sp, a_sp, nullptr);
  }
}

// A: loads `in` into d8-d15, switches to B and back, stores d8-d15 into `out`. The call
// is made from inside the asm so that nothing the compiler emits touches d8-d15 between
// the load, the switch and the store; every caller-saved register is declared clobbered.
void round_trip_checked(const std::uint64_t* in, std::uint64_t* out) {
  asm volatile(
      "ldp d8, d9, [%[in], #0]\n\t"
      "ldp d10, d11, [%[in], #16]\n\t"
      "ldp d12, d13, [%[in], #32]\n\t"
      "ldp d14, d15, [%[in], #48]\n\t"
      "mov x0, %[save]\n\t"
      "mov x1, %[target]\n\t"
      "mov x2, xzr\n\t"
      "bl weft_switch\n\t"
      "stp d8, d9, [%[out], #0]\n\t"
      "stp d10, d11, [%[out], #16]\n\t"
      "stp d12, d13, [%[out], #32]\n\t"
      "stp d14, d15, [%[out], #48]\n\t"
      :
      : [in] "r"(in), [out] "r"(out), [save] "r"(&a_sp), [target] "r"(b_sp)
      : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
        "x14", "x15", "x16", "x17", "x18", "x30", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7",
        "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20",
        "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "cc",
        "memory");
}

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("  %-58s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) ++failures;
}

// FPCR values that differ in rounding mode (bits 22-23) and flush-to-zero (bit 24).
constexpr std::uint64_t kFpcrUpwardFz = (std::uint64_t{1} << 22) | (std::uint64_t{1} << 24);
constexpr std::uint64_t kFpcrTowardZero = std::uint64_t{3} << 22;

void fp_state_survives(std::uint64_t a_fpcr, std::uint64_t other_fpcr, const char* label) {
  std::uint64_t in[8], out[8];
  for (int i = 0; i < 8; ++i) {
    in[i] = 0x0123456789abcdefULL ^ (0x1111111111111111ULL * static_cast<unsigned>(i + 1));
    b_pattern[i] = ~in[i];
  }
  b_fpcr = other_fpcr;
  weft::detail::write_fp_control({a_fpcr});
  round_trip_checked(in, out);
  const std::uint64_t seen_fpcr = weft::detail::read_fp_control().fpcr;
  weft::detail::write_fp_control(weft::detail::kDefaultFpControl);
  char what[96];
  std::snprintf(what, sizeof what, "d8-d15 survive a round trip (%s)", label);
  check(std::memcmp(in, out, sizeof in) == 0, what);
  for (int i = 0; i < 8; ++i) {
    if (in[i] != out[i]) {
      std::printf("    d%d: wrote %016" PRIx64 ", read %016" PRIx64 "\n", 8 + i, in[i], out[i]);
    }
  }
  std::snprintf(what, sizeof what, "FPCR survives a round trip (%s)", label);
  check(seen_fpcr == a_fpcr, what);
  if (seen_fpcr != a_fpcr) {
    std::printf("    FPCR: set %016" PRIx64 ", read %016" PRIx64 "\n", a_fpcr, seen_fpcr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  long rounds = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      rounds = std::strtol(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: weft-switch-probe [--rounds N]\n");
      return 2;
    }
  }
  void* mem = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  b_sp = weft::detail::make_context(static_cast<char*>(mem) + kStack, bounce);

  const auto begin = reinterpret_cast<std::uintptr_t>(&weft_switch);
  const auto end = reinterpret_cast<std::uintptr_t>(&weft_switch_end);
  const std::uintptr_t n = (end - begin) / 4;
  std::printf("weft_switch: %" PRIuPTR " instructions; per one-way switch %" PRIuPTR
              " (FPCR unchanged) or %" PRIuPTR " (FPCR differs); per round trip %" PRIuPTR
              ", plus the caller's two BLs\n",
              n, n - 1, n, 2 * (n - 1));
  check(end > begin && (end - begin) % 4 == 0 && n < 128, "weft_switch_end follows weft_switch");

  // The first switch enters bounce() through the trampoline.
  fp_state_survives(kFpcrUpwardFz, kFpcrTowardZero, "B's FPCR differs");
  fp_state_survives(kFpcrTowardZero, kFpcrTowardZero, "B's FPCR equal");
  fp_state_survives(0, kFpcrUpwardFz, "A default, B flush-to-zero");

  b_fpcr = 0;
  for (auto& p : b_pattern) p = 0;
  std::uint64_t in[8] = {}, out[8];
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < rounds; ++i) round_trip_checked(in, out);
  const auto t1 = std::chrono::steady_clock::now();
  const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
  std::printf("%ld round trips: %.1f ns each (meaningless under emulation)\n", rounds,
              rounds > 0 ? ns / static_cast<double>(rounds) : 0.0);
  std::printf("%s\n", failures ? "weft-switch-probe: FAILED" : "weft-switch-probe: ok");
  return failures ? 1 : 0;
}
