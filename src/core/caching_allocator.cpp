#include "smx/core/caching_allocator.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

#include <c10/core/CPUAllocator.h>

#include "smx/core/torch_compat.h"

namespace smx {
namespace {

constexpr size_t kMinCached = size_t{1} << 20;  // smaller blocks: plain c10 allocation
constexpr size_t kGranule = size_t{1} << 20;    // large sizes round up to whole MiB

void* aligned(size_t size) {
  void* data = nullptr;
  return posix_memalign(&data, 64, size) == 0 ? data : nullptr;  // 64: c10's own alignment
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  at::DataPtr allocate(size_t nbytes) SMX_ALLOCATOR_ALLOCATE_CONST override {
    if (nbytes < kMinCached) {  // not cached: the deleter finds no live_ entry and frees it
      void* data = aligned(nbytes == 0 ? 1 : nbytes);
      if (data == nullptr) throw std::bad_alloc();
      return {data, data, &CachingCpuAllocator::deleter, at::Device(at::DeviceType::CPU)};
    }
    const size_t size = (nbytes + kGranule - 1) / kGranule * kGranule;
    void* data = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end()) {
        data = it->second;
        free_.erase(it);
        cached_bytes_ -= static_cast<int64_t>(size);
        ++hits_;
      } else {
        ++misses_;
      }
    }
    if (data == nullptr) {
      data = aligned(size);
      if (data == nullptr) {
        release();  // out of memory: give the cache back and try once more
        data = aligned(size);
      }
      if (data == nullptr) throw std::bad_alloc();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_[data] = size;
    }
    return {data, data, &CachingCpuAllocator::deleter, at::Device(at::DeviceType::CPU)};
  }

  // Allocator::clone's copy (pure virtual since LibTorch 2.3; an unused member before).
  void copy_data(void* dest, const void* src, std::size_t count) const {
    std::memcpy(dest, src, count);
  }

  // oneDNN scratch buffers use raw_allocate/raw_deallocate: every block's context is its pointer.
  at::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::deleter; }

  void give_back(void* data) {
    size_t size = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = live_.find(data);
      if (it == live_.end()) {  // a small, uncached block
        std::free(data);
        return;
      }
      size = it->second;
      live_.erase(it);
      if (cached_bytes_ + static_cast<int64_t>(size) <= limit_) {
        free_.emplace(size, data);
        cached_bytes_ += static_cast<int64_t>(size);
        return;
      }
    }
    std::free(data);
  }

  void release() const {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      cached_bytes_ = 0;
    }
    for (auto& [size, data] : blocks) std::free(data);
  }

  CachingAllocatorStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_bytes_, hits_, misses_};
  }

  void set_limit(int64_t limit) { limit_ = limit; }

  static void deleter(void* data);

 private:
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;  // idle blocks by rounded size
  mutable std::unordered_map<void*, size_t> live_;
  mutable int64_t cached_bytes_ = 0, hits_ = 0, misses_ = 0;
  int64_t limit_ = 0;
};

CachingCpuAllocator& instance() {
  static CachingCpuAllocator* allocator = new CachingCpuAllocator();  // never destroyed: tensors
  return *allocator;                                                  // may outlive statics
}

void CachingCpuAllocator::deleter(void* data) {
  instance().give_back(data);
}

}  // namespace

void enable_caching_cpu_allocator(int64_t cache_limit_bytes) {
  static std::once_flag once;
  if (cache_limit_bytes <= 0)
    cache_limit_bytes = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) *
                        static_cast<int64_t>(sysconf(_SC_PAGESIZE)) / 4;
  instance().set_limit(cache_limit_bytes);
  std::call_once(once, [] { c10::SetCPUAllocator(&instance(), /*priority=*/100); });
}

void release_cached_cpu_memory() {
  instance().release();
}

CachingAllocatorStats caching_allocator_stats() {
  return instance().stats();
}

}  // namespace smx
