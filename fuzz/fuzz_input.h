// Reads a fuzz input as fields. Past the end every field reads as zero and every byte
// string as empty, so that any input is a valid one.
#ifndef RESPTRACE_FUZZ_INPUT_H_
#define RESPTRACE_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace resptrace {

class FuzzInput {
 public:
  explicit FuzzInput(std::string_view bytes) : rest_(bytes) {}

  bool empty() const { return rest_.empty(); }
  uint8_t U8() { return static_cast<uint8_t>(Int(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Int(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  // Up to `n` bytes: fewer when the input ends first.
  std::string_view Bytes(size_t n) {
    const std::string_view b = rest_.substr(0, n);
    rest_.remove_prefix(b.size());
    return b;
  }

 private:
  // Little-endian.
  uint64_t Int(size_t n) {
    uint64_t v = 0;
    const std::string_view b = Bytes(n);
    for (size_t i = 0; i < b.size(); ++i) v |= uint64_t{static_cast<uint8_t>(b[i])} << (8 * i);
    return v;
  }

  std::string_view rest_;
};

}  // namespace resptrace

#endif  // RESPTRACE_FUZZ_INPUT_H_
