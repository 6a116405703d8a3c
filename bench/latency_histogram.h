// SPDX-License-Identifier: MIT
// bench/latency_histogram.h — a log-bucketed latency histogram in the manner of HdrHistogram:
// 1 µs resolution below 128 µs, then 64 sub-buckets per power of two (at most 1/64 = 1.6 %
// relative error, under 1 % on average), up to 2^27 µs (134 s); larger values are clamped
// to the last bucket, the exact maximum is kept apart.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace bench {

class latency_histogram {
 public:
  static constexpr unsigned linear = 128;        // 0..127 µs: one bucket per µs
  static constexpr unsigned sub_buckets = 64;    // per power of two from 128 µs
  static constexpr unsigned top_power = 27;      // 2^27 µs: the last bucket
  static constexpr unsigned bucket_count = linear + (top_power - 7) * sub_buckets;

  // record() counts one latency of `us` microseconds.
  void record(std::uint64_t us) noexcept {
    ++_counts[index_of(us)];
    ++_total;
    _max = std::max(_max, us);
    _sum += static_cast<double>(us);
  }
  [[nodiscard]] std::uint64_t total() const noexcept { return _total; }
  [[nodiscard]] std::uint64_t max() const noexcept { return _max; }
  [[nodiscard]] double mean() const noexcept { return _total ? _sum / double(_total) : 0.0; }

  // percentile() is the highest value equivalent to the q-quantile's bucket (q in [0, 1]),
  // never above the exact maximum; 0 for an empty histogram.
  [[nodiscard]] std::uint64_t percentile(double q) const noexcept {
    if (_total == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(_total)));
    std::uint64_t seen = 0;
    for (unsigned i = 0; i < bucket_count; ++i) {
      seen += _counts[i];
      if (seen >= std::max<std::uint64_t>(rank, 1)) return std::min(highest_in(i), _max);
    }
    return _max;
  }

  // index_of() is the bucket of a value in µs.
  static unsigned index_of(std::uint64_t us) noexcept {
    if (us < linear) return static_cast<unsigned>(us);
    const unsigned power = static_cast<unsigned>(std::bit_width(us)) - 1;  // >= 7
    if (power >= top_power) return bucket_count - 1;
    const unsigned shift = power - 6;  // us >> shift in [64, 128)
    return linear + (power - 7) * sub_buckets + static_cast<unsigned>((us >> shift) - 64);
  }
  // highest_in() is the largest value that falls in bucket i.
  static std::uint64_t highest_in(unsigned i) noexcept {
    if (i < linear) return i;
    const unsigned power = (i - linear) / sub_buckets + 7, shift = power - 6;
    const std::uint64_t low = (std::uint64_t{64} + (i - linear) % sub_buckets) << shift;
    return low + (std::uint64_t{1} << shift) - 1;
  }

 private:
  std::array<std::uint64_t, bucket_count> _counts{};
  std::uint64_t _total = 0, _max = 0;
  double _sum = 0;
};

}  // namespace bench
