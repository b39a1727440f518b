// Recognising a value among a few known words (command names, reply kinds) as the parser
// hands it over piece by piece: ASCII case ignored as Redis does, nothing copied or
// allocated, and most values ruled out by their declared length before a byte is compared.
#ifndef RESPTRACE_WORD_MATCHER_H_
#define RESPTRACE_WORD_MATCHER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace resptrace {

// Up to 32 lower-case words, indexed by their position, with a bit set of the words of
// each length.
struct WordList {
  static constexpr size_t kMaxWords = 32;
  static constexpr size_t kMaxLen = 15;
  const std::string_view* words = nullptr;
  uint32_t count = 0;
  std::array<uint32_t, kMaxLen + 1> of_length{};
};

template <size_t N>
constexpr WordList MakeWordList(const std::string_view (&words)[N]) {
  static_assert(N <= WordList::kMaxWords);
  WordList list;
  list.words = words;
  list.count = N;
  for (uint32_t w = 0; w < N; ++w) list.of_length[words[w].size()] |= 1u << w;
  return list;
}

// Compares one value with the words of a list that it may be.
class WordMatcher {
 public:
  // A value of `len` bytes starts; `allowed` has a bit for each word of `list` it may be.
  void Start(const WordList& list, int64_t len, uint32_t allowed) {
    list_ = &list;
    candidates_ = len >= 0 && len <= static_cast<int64_t>(WordList::kMaxLen)
                      ? list.of_length[static_cast<size_t>(len)] & allowed
                      : 0;
    len_ = len;
    pos_ = 0;
  }
  // Rules every word out, as bytes lost in a gap could have been anything.
  void Fail() { candidates_ = 0; }
  void Feed(std::string_view data);
  // The word matched (its index), or -1 while the value is incomplete or matches none.
  int word() const;
  bool possible() const { return candidates_ != 0; }

 private:
  const WordList* list_ = nullptr;
  uint32_t candidates_ = 0;
  int64_t len_ = 0;
  int64_t pos_ = 0;
};

}  // namespace resptrace

#endif  // RESPTRACE_WORD_MATCHER_H_
