// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::Channel<T> — a bounded multi-producer multi-consumer channel (Go's chan T).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/detail/check_hook.hpp"
#include "weft/detail/wait.hpp"
#include "weft/detail/wait_queue.hpp"

namespace weft {

/// A FIFO of at most `capacity` elements; capacity 0 makes every send a rendezvous (it
/// completes only when a receiver takes the value). Blocking calls suspend only the calling
/// coroutine, or block a plain thread; both may use the same Channel.
///
/// The ring buffer is allocated once, at construction; a blocked sender or receiver waits
/// in an intrusive queue on its own stack, so no operation allocates. A sender that finds a
/// waiting receiver hands it the value directly; a receiver that takes from a full buffer
/// refills it from the oldest waiting sender. So values come out in the order their sends
/// completed, and blocked senders complete FIFO.
///
/// close() is idempotent: later and blocked sends return false (dropping their value);
/// receivers drain what is buffered, then get std::nullopt. A send that returns true has
/// passed its value to exactly one receiver or into the buffer (no loss or duplication,
/// also when a timeout races with a hand-off: the hand-off wins).
///
/// Everything a sender did before send() happens-before the return of the recv() that got
/// its value. T must be nothrow move-constructible (elements are moved under the channel's
/// spin lock). Destroying a Channel while someone is blocked on it prints a message and
/// calls std::terminate; buffered elements are destroyed with it. A party whose blocking
/// call returned may destroy the Channel at once, even while the call that woke it (send,
/// recv, close) is still returning: no call touches the Channel after waking someone.
template <class T>
class Channel {
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                "weft::Channel<T> needs a nothrow move constructor and destructor");

 public:
  /// A channel buffering up to `capacity` values; 0 makes every send a rendezvous.
  /// Allocates the ring once, here; no later call allocates.
  explicit Channel(std::size_t capacity)
      : buf_(capacity ? std::allocator<T>().allocate(capacity) : nullptr), cap_(capacity) {}
  ~Channel() {
    detail::check_unused_on_destroy(
        lk_, "weft::Channel destroyed while a sender or receiver is blocked", senders_, receivers_);
    for (; count_ > 0; --count_) {
      std::destroy_at(buf_ + head_);
      head_ = next(head_);
    }
    if (buf_) std::allocator<T>().deallocate(buf_, cap_);
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  /// Blocks until the value is buffered or taken by a receiver. False once closed (the
  /// value is dropped). `where` (here and in every blocking call) names the call in
  /// weft::check's deadlock reports.
  bool send(T value, detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kChannelSend, this, where);
    return send_core(value, nullptr, true) == kDone;
  }
  /// Never blocks. True when sent; otherwise (full, no waiting receiver, or closed) `value`
  /// is left untouched.
  bool try_send(T& value) {
    detail::check_point(detail::CheckOp::kChannelTrySend, this, {});
    return send_core(value, nullptr, false) == kDone;
  }
  /// try_send() of an rvalue (dropped when not sent).
  bool try_send(T&& value) { return try_send(value); }
  /// send() giving up after `d`; `value` is moved from only when it returns true (on false
  /// check closed() to tell a timeout from a closed channel).
  template <class Rep, class Period>
  bool send_for(T& value, const std::chrono::duration<Rep, Period>& d,
                detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kChannelSend, this, where);
    const detail::Clock::time_point deadline = detail::deadline_after(d);
    return send_core(value, &deadline, true) == kDone;
  }
  template <class Rep, class Period>
  /// send_for() of an rvalue (dropped when not sent).
  bool send_for(T&& value, const std::chrono::duration<Rep, Period>& d,
                detail::Where where = WEFT_HERE) {
    return send_for(value, d, where);
  }

  /// Blocks until a value arrives; std::nullopt once the channel is closed and drained.
  std::optional<T> recv(detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kChannelRecv, this, where);
    std::optional<T> out;
    recv_core(out, nullptr, true);
    return out;
  }
  /// Never blocks: a buffered value or one from a waiting sender, else std::nullopt.
  std::optional<T> try_recv() {
    detail::check_point(detail::CheckOp::kChannelTryRecv, this, {});
    std::optional<T> out;
    recv_core(out, nullptr, false);
    return out;
  }
  /// recv() giving up after `d` (std::nullopt; check closed() to tell the cases apart).
  template <class Rep, class Period>
  std::optional<T> recv_for(const std::chrono::duration<Rep, Period>& d,
                            detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kChannelRecv, this, where);
    std::optional<T> out;
    const detail::Clock::time_point deadline = detail::deadline_after(d);
    recv_core(out, &deadline, true);
    return out;
  }

  /// Closes the channel and wakes every blocked sender and receiver. Idempotent.
  void close() noexcept {
    detail::check_point(detail::CheckOp::kChannelClose, this, {});
    detail::WakeList wakes;  // wakes after lk_.unlock(): see the rule in wait.hpp
    lk_.lock();
    if (!closed_.load(std::memory_order_relaxed)) {
      closed_.store(true, std::memory_order_release);
      // Blocked senders exist only while the buffer is full, blocked receivers only while
      // it is empty: failing them all leaves the buffer intact for later receivers.
      while (detail::Waiter* s = senders_.pop_front()) {
        static_cast<SendOp*>(s->slot)->ok = false;
        wakes.add(*s);
      }
      while (detail::Waiter* r = receivers_.pop_front()) wakes.add(*r);  // slot stays empty
    }
    lk_.unlock();
  }
  /// True once close() was called.
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  /// Buffered elements (a snapshot).
  std::size_t size() const noexcept {
    lk_.lock();
    const std::size_t n = count_;
    lk_.unlock();
    return n;
  }
  /// The capacity given to the constructor.
  std::size_t capacity() const noexcept { return cap_; }

 private:
  enum Result { kDone, kClosed, kNotNow };  ///< kNotNow: would block, or timed out

  /// Waiter::slot of a blocked sender. `ok` is written by whoever dequeues it, under lk_.
  struct SendOp {
    T* value;
    bool ok = false;
  };
  /// Waiter::slot of a blocked receiver: its std::optional<T>, filled by the sender that
  /// dequeues it, left empty by close().

  std::size_t next(std::size_t i) const noexcept { return i + 1 == cap_ ? 0 : i + 1; }

  /// Under lk_, with count_ < cap_.
  void push(T& v) noexcept {
    std::size_t tail = head_ + count_;
    if (tail >= cap_) tail -= cap_;
    std::construct_at(buf_ + tail, std::move(v));
    ++count_;
  }

  /// Every path below runs under lk_ until it returns or parks; elements move only under
  /// lk_, and a waiter's slot is completed before it is claimed (the claim's acq_rel on the
  /// waiter's status, or lk_ after a timeout race, orders it before the waiter reads it).
  /// The waiter is woken only after lk_.unlock(), by the WakeList declared before the lock
  /// is taken: the woken party may destroy the channel at once (see the rule in wait.hpp).
  Result send_core(T& v, const detail::Clock::time_point* deadline, bool may_block) {
    detail::WakeList wakes;
    lk_.lock();
    if (closed_.load(std::memory_order_relaxed)) {
      lk_.unlock();
      return kClosed;
    }
    if (detail::Waiter* r = receivers_.pop_front()) {
      // Receivers wait only on an empty buffer: hand over directly.
      static_cast<std::optional<T>*>(r->slot)->emplace(std::move(v));
      wakes.add(*r);  // even if its deadline fired, it will take the value
      lk_.unlock();
      return kDone;
    }
    if (count_ < cap_) {
      push(v);
      lk_.unlock();
      return kDone;
    }
    if (!may_block) {
      lk_.unlock();
      return kNotNow;
    }
    detail::Waiter w;
    SendOp op{&v};
    w.slot = &op;
    senders_.push_back(w);
    if (!detail::block(senders_, w, lk_, deadline)) return kNotNow;
    return op.ok ? kDone : kClosed;
  }

  Result recv_core(std::optional<T>& out, const detail::Clock::time_point* deadline,
                   bool may_block) {
    detail::WakeList wakes;
    lk_.lock();
    if (count_ > 0) {
      out.emplace(std::move(buf_[head_]));
      std::destroy_at(buf_ + head_);
      head_ = next(head_);
      --count_;
      if (detail::Waiter* s = senders_.pop_front()) {
        // The buffer was full: the oldest blocked sender's value goes in behind the rest.
        auto* op = static_cast<SendOp*>(s->slot);
        push(*op->value);
        op->ok = true;
        wakes.add(*s);
      }
      lk_.unlock();
      return kDone;
    }
    if (detail::Waiter* s = senders_.pop_front()) {
      // Empty buffer with blocked senders: capacity 0, a rendezvous.
      auto* op = static_cast<SendOp*>(s->slot);
      out.emplace(std::move(*op->value));
      op->ok = true;
      wakes.add(*s);
      lk_.unlock();
      return kDone;
    }
    if (closed_.load(std::memory_order_relaxed)) {
      lk_.unlock();
      return kClosed;
    }
    if (!may_block) {
      lk_.unlock();
      return kNotNow;
    }
    detail::Waiter w;
    w.slot = &out;
    receivers_.push_back(w);
    if (!detail::block(receivers_, w, lk_, deadline)) return kNotNow;
    return out ? kDone : kClosed;
  }

  mutable detail::SpinLock lk_;  ///< guards everything below but cap_ and buf_ (fixed)
  T* const buf_;
  const std::size_t cap_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::atomic<bool> closed_{false};  ///< written under lk_; read without it by closed()
  detail::WaitQueue senders_;
  detail::WaitQueue receivers_;
};

}  // namespace weft
