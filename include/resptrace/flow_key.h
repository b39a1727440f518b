// Addresses, endpoints and the TCP 4-tuple that identifies a flow.
#ifndef RESPTRACE_FLOW_KEY_H_
#define RESPTRACE_FLOW_KEY_H_

#include <array>
#include <cstdint>
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

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.bytes, a.is_v6);
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
