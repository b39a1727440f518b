#include "resptrace/pcapng_interfaces.h"

#include <algorithm>
#include <cstring>

namespace resptrace {
namespace {

// Block types (pcapng specification, section 11.1).
constexpr uint32_t kSectionHeader = 0x0A0D0D0A;  // reads the same in both byte orders
constexpr uint32_t kInterfaceDescription = 1;
constexpr uint32_t kObsoletePacket = 2;  // its interface id is 16 bits
constexpr uint32_t kSimplePacket = 3;    // always on the section's first interface
constexpr uint32_t kEnhancedPacket = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;

uint32_t Load32(const uint8_t* p, bool big_endian) {
  return big_endian ? uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]
                    : uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0];
}

uint16_t Load16(const uint8_t* p, bool big_endian) {
  return static_cast<uint16_t>(big_endian ? p[0] << 8 | p[1] : p[1] << 8 | p[0]);
}

}  // namespace

void PcapngInterfaces::Observe(const char* data, size_t n) {
  while (n > 0 && state_ != State::kIgnored) {
    if (rest_of_block_ > 0) {
      const size_t skip = static_cast<size_t>(std::min<uint64_t>(rest_of_block_, n));
      rest_of_block_ -= skip;
      data += skip;
      n -= skip;
      continue;
    }
    const size_t take = std::min(kHeadLen - head_len_, n);
    std::memcpy(head_ + head_len_, data, take);
    head_len_ += take;
    data += take;
    n -= take;
    if (head_len_ == kHeadLen) {
      head_len_ = 0;
      OnBlockHead();
    }
  }
}

void PcapngInterfaces::OnBlockHead() {
  if (Load32(head_, big_endian_) == kSectionHeader) {
    // Its byte-order magic says how the section's numbers, this block's length included,
    // are written.
    const uint32_t magic = Load32(head_ + 8, false);
    if (magic != kByteOrderMagic && magic != __builtin_bswap32(kByteOrderMagic)) {
      state_ = State::kIgnored;
      return;
    }
    big_endian_ = magic != kByteOrderMagic;
    state_ = State::kPcapng;
    earlier_sections_interfaces_ += section_interfaces_;
    section_interfaces_ = 0;
  } else if (state_ == State::kFirstBlock) {
    state_ = State::kIgnored;  // not pcapng
    return;
  }
  const uint32_t total_len = Load32(head_ + 4, big_endian_);
  if (total_len < kHeadLen) {
    state_ = State::kIgnored;  // libpcap stops at this block too
    return;
  }
  switch (Load32(head_, big_endian_)) {
    case kInterfaceDescription:
      ++section_interfaces_;
      break;
    case kEnhancedPacket:
      packets_.push_back(earlier_sections_interfaces_ + Load32(head_ + 8, big_endian_));
      break;
    case kObsoletePacket:
      packets_.push_back(earlier_sections_interfaces_ + Load16(head_ + 8, big_endian_));
      break;
    case kSimplePacket:
      packets_.push_back(earlier_sections_interfaces_);
      break;
    default:
      break;
  }
  rest_of_block_ = total_len - kHeadLen;
}

std::optional<uint32_t> PcapngInterfaces::TakeNext() {
  if (packets_.empty()) return std::nullopt;
  const uint32_t id = packets_.front();
  packets_.pop_front();
  return id;
}

}  // namespace resptrace
