// ShuffleBuffer: the reference's random-replacement shuffle (docs/design.md §4.2 step 7).
#pragma once

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "smx/data/rng.h"

namespace smx {

template <typename T>
class ShuffleBuffer {
 public:
  explicit ShuffleBuffer(std::size_t capacity) : slots_(capacity) {}

  // Picks a uniformly random slot, returns its old occupant if there is one, and stores `item`
  // there.
  std::optional<T> push(T item, Rng& rng) {
    auto& slot = slots_[rng.uniform(slots_.size())];
    std::optional<T> out = std::move(slot);
    slot = std::move(item);
    return out;
  }

  // Empties the buffer, returning its occupants in slot order.
  std::vector<T> drain() {
    std::vector<T> out;
    for (auto& slot : slots_) {
      if (slot) out.push_back(std::move(*slot));
      slot.reset();
    }
    return out;
  }

  std::size_t capacity() const { return slots_.size(); }
  const std::vector<std::optional<T>>& slots() const { return slots_; }
  void set_slots(std::vector<std::optional<T>> slots) { slots_ = std::move(slots); }

 private:
  std::vector<std::optional<T>> slots_;
};

}  // namespace smx
