// Which interface each packet of a pcapng file was captured on. libpcap 1.10 reads pcapng
// files but does not tell; this follows the file's block structure in the very bytes libpcap
// reads (see CaptureReader), which deliver every packet block in file order.
#ifndef RESPTRACE_PCAPNG_INTERFACES_H_
#define RESPTRACE_PCAPNG_INTERFACES_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace resptrace {

class PcapngInterfaces {
 public:
  // The file's bytes, in order, in pieces of any size. A file that does not begin with a
  // section header block is not pcapng, and the rest is ignored.
  void Observe(const char* data, size_t n);

  // The interface of the oldest packet block observed and not yet taken, numbered from 0 over
  // the whole file (a section's interfaces follow those of the sections before it). None for
  // a file that is not pcapng or whose block structure broke (libpcap reports the damage).
  std::optional<uint32_t> TakeNext();

 private:
  // The first bytes of a block: type, total length, and the interface id of a packet block
  // (or the byte-order magic of a section header block).
  static constexpr size_t kHeadLen = 12;
  enum class State : uint8_t { kFirstBlock, kPcapng, kIgnored };

  void OnBlockHead();

  State state_ = State::kFirstBlock;
  bool big_endian_ = false;  // the current section's byte order
  uint8_t head_[kHeadLen] = {};
  size_t head_len_ = 0;         // bytes of head_ filled so far
  uint64_t rest_of_block_ = 0;  // bytes after the current block's head still to pass
  uint32_t earlier_sections_interfaces_ = 0;
  uint32_t section_interfaces_ = 0;
  std::deque<uint32_t> packets_;  // interfaces of packet blocks read ahead of libpcap
};

}  // namespace resptrace

#endif  // RESPTRACE_PCAPNG_INTERFACES_H_
