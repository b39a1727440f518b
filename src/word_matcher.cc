#include "resptrace/word_matcher.h"

#include <bit>

namespace resptrace {

void WordMatcher::Feed(std::string_view data) {
  // The pieces of a value add up to its declared length, the candidates' length: no overrun.
  for (const char c : data) {
    if (candidates_ == 0) return;
    const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
    for (uint32_t left = candidates_; left != 0; left &= left - 1) {
      const int w = std::countr_zero(left);
      if (list_->words[w][static_cast<size_t>(pos_)] != lower) candidates_ &= ~(1u << w);
    }
    ++pos_;
  }
}

int WordMatcher::word() const {
  if (candidates_ == 0 || pos_ != len_) return -1;
  return std::countr_zero(candidates_);  // words in a list are distinct: one is left
}

}  // namespace resptrace
