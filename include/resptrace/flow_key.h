// Addresses, endpoints and the TCP 4-tuple that identifies a flow.
#ifndef RESPTRACE_FLOW_KEY_H_
#define RESPTRACE_FLOW_KEY_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

namespace resptrace {

// An IPv4 or IPv6 address. IPv4 is kept in the first 4 bytes, the rest zero, so that
// equality and hashing need no branch on the family.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool is_v6 = false;

  static IpAddress V4(const uint8_t* b);
  static IpAddress V6(const uint8_t* b);

  // The 16 bytes as two machine words: equality, ordering and hashing run per segment,
  // and byte-wise comparisons there were calls to memcmp.
  std::pair<uint64_t, uint64_t> Words() const {
    uint64_t w[2];
    std::memcpy(w, bytes.data(), sizeof w);
    return {w[0], w[1]};
  }

  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.Words() == b.Words() && a.is_v6 == b.is_v6;
  }
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    const auto [w0, w1] = a.Words();
    return H::combine(std::move(h), w0, w1, a.is_v6);
  }
};

struct Endpoint {
  IpAddress addr;
  uint16_t port = 0;

  // "10.0.0.1:6379" or "[::1]:6379".
  std::string ToString() const;
  // Appends ToString() to `out` without a temporary.
  void AppendTo(std::string& out) const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Endpoint& e) {
    return H::combine(std::move(h), e.addr, e.port);
  }
};

// A directed 4-tuple: src sent the packet to dst.
struct FlowKey {
  Endpoint src;
  Endpoint dst;

  FlowKey Reversed() const { return FlowKey{dst, src}; }

  friend bool operator==(const FlowKey&, const FlowKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const FlowKey& k) {
    return H::combine(std::move(h), k.src, k.dst);
  }
};

}  // namespace resptrace

#endif  // RESPTRACE_FLOW_KEY_H_
