// What a reassembled byte stream (one direction of a TCP connection) is delivered to.
#ifndef RESPTRACE_STREAM_CONSUMER_H_
#define RESPTRACE_STREAM_CONSUMER_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace resptrace {

class StreamConsumer {
 public:
  virtual ~StreamConsumer() = default;
  // The next bytes of the stream, in order, each delivered exactly once. `ts_ns` is the
  // capture time of the segment that carried them, `ack` its acknowledgement of the other
  // direction (none without the ACK flag): what the sender had received when it sent them.
  virtual void OnData(std::string_view bytes, int64_t ts_ns, std::optional<uint32_t> ack) = 0;
  // `bytes` bytes of the stream are missing for good (lost, not captured, cut by the
  // snaplen). The stream continues after them.
  virtual void OnGap(uint64_t bytes, int64_t ts_ns) = 0;
};

}  // namespace resptrace

#endif  // RESPTRACE_STREAM_CONSUMER_H_
