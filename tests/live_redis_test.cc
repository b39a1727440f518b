// End to end against a live Redis: real clients talk to a throwaway redis-server, tcpdump captures
// the loopback traffic, and resptrace's records must say exactly what went over the wire: which
// command, which reply, how many bytes, and when (checked against the capture itself).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "redis_harness.h"

namespace resptrace::live {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// Running resptrace

struct Trace {
  int exit_status = -1;
  std::vector<std::string> lines;  // standard output, one entry per line
  std::vector<json> records;       // the lines parsed, for -o json
  std::string summary;             // standard error
};

Trace RunResptrace(const std::string& pcap, uint16_t port, const std::string& format,
                   const std::vector<std::string>& env = {},
                   const std::vector<std::string>& flags = {}) {
  std::vector<std::string> argv = {RESPTRACE_BINARY, "-r", pcap, "-p", std::to_string(port),
                                   "-o", format};
  argv.insert(argv.end(), flags.begin(), flags.end());
  ProcessResult r = RunProcess(argv, env);
  Trace t;
  t.exit_status = r.exit_status;
  t.summary = r.err;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    t.lines.emplace_back(line);
    if (format == "json") t.records.push_back(json::parse(t.lines.back()));
  }
  return t;
}

// The first summary line, exactly as it must read for a clean capture.
std::string CleanSummary(size_t packets, size_t flows, size_t commands, size_t replies,
                         size_t unanswered, size_t pushes) {
  return absl::StrCat("resptrace: ", packets, " packets, ", flows, " flows, ", commands,
                      " commands, ", replies, " replies, ", unanswered, " unanswered, ", pushes,
                      " pushes, 0 anomalies, 0 gaps (0 bytes)\n");
}

int64_t TsMicros(const json& record) { return std::llround(record.at("ts").get<double>() * 1e6); }

// Every byte of one connection, both ways, belongs to exactly one of its records, in order; each
// record's ts is the capture time of its first byte and latency_us runs from there to the
// capture time of the reply's last byte.
void ExpectRecordsCoverConnection(const std::vector<json>& records,
                                  const std::vector<TcpPacket>& packets, uint16_t client_port,
                                  uint16_t server_port) {
  SCOPED_TRACE(absl::StrCat("connection from port ", client_port));
  const CapturedStream requests(packets, client_port, server_port);
  const CapturedStream replies(packets, server_port, client_port);
  uint64_t req_off = 0;
  uint64_t reply_off = 0;
  for (const json& r : records) {
    SCOPED_TRACE(r.dump());
    const uint64_t reply_bytes = r.at("reply_bytes").get<uint64_t>();
    if (r.at("type") == "push") {
      EXPECT_EQ(TsMicros(r), replies.ts_us_at(reply_off));
      reply_off += reply_bytes;
      continue;
    }
    const int64_t ts = requests.ts_us_at(req_off);
    EXPECT_EQ(TsMicros(r), ts);
    if (reply_bytes == 0) {
      EXPECT_TRUE(r.at("latency_us").is_null());
    } else {
      const int64_t last = replies.ts_us_at(reply_off + reply_bytes - 1);
      EXPECT_EQ(r.at("latency_us"), json(last - ts));
      EXPECT_GE(r.at("latency_us").get<int64_t>(), 0);
    }
    req_off += r.at("req_bytes").get<uint64_t>();
    reply_off += reply_bytes;
  }
  EXPECT_EQ(req_off, requests.size()) << "request bytes not in any record";
  EXPECT_EQ(reply_off, replies.size()) << "reply bytes not in any record";
}

std::vector<json> RecordsOf(const std::vector<json>& records, const std::string& client) {
  std::vector<json> out;
  for (const json& r : records) {
    if (r.at("client") == client) out.push_back(r);
  }
  return out;
}

// A record without the fields that depend on capture times (checked against the capture by
// ExpectRecordsCoverConnection).
json Timeless(json record) {
  record.erase("ts");
  record.erase("latency_us");
  return record;
}

// What Redis's command table says of the commands these tests send, written out here
// rather than asked of resptrace's table: each key command's one key is its first argument;
// CLIENT and CONFIG name a subcommand.
void AddCommandFields(json& record) {
  static const std::set<std::string> kFirstArgumentIsKey = {
      "BLPOP", "DEL",  "GET",  "HGETALL", "HSET", "INCR",     "LLEN",  "LPUSH",
      "LRANGE", "RPUSH", "SADD", "SET",   "SMEMBERS", "WATCH", "ZADD", "ZSCORE"};
  const std::string cmd = record["cmd"];
  const json& args = record["args"];
  record["keys"] = kFirstArgumentIsKey.count(cmd) != 0 ? json::array({args[0]}) : json::array();
  if ((cmd == "CLIENT" || cmd == "CONFIG") && !args.empty()) {
    std::string sub = args[0];
    for (char& c : sub) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    record["subcmd"] = sub;
  }
}

json CommandRecord(const std::string& client, const std::string& server, const std::string& cmd,
                   json args, const std::string& reply_type, json reply, size_t req_bytes,
                   size_t reply_bytes) {
  json record = {{"type", "command"}, {"client", client},       {"server", server},
                 {"cmd", cmd},        {"args", args},           {"reply_type", reply_type},
                 {"reply", reply},    {"req_bytes", req_bytes}, {"reply_bytes", reply_bytes}};
  AddCommandFields(record);
  return record;
}

std::string HelloReply(const std::string& version, int64_t id) {
  return absl::StrCat("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$", version.size(),
                      "\r\n", version, "\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:", id,
                      "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                      "$7\r\nmodules\r\n*0\r\n");
}

json HelloValue(const std::string& version, int64_t id) {
  return json::array({{"server", "redis"},
                      {"version", version},
                      {"proto", 3},
                      {"id", id},
                      {"mode", "standalone"},
                      {"role", "master"},
                      {"modules", json::array()}});
}

// ---------------------------------------------------------------------------------------------
// The raw-socket script: exact bytes out, exact bytes back.

struct Step {
  std::string request;  // exact bytes sent
  std::string cmd;
  json args;
  bool inline_cmd = false;
  std::string reply;  // exact bytes the server answers
  std::string reply_type;
  json value;
  std::string text;  // the text line's "CMD args -> reply" part; a trailing '*' matches anything
  std::string push;  // a push the server sends right after the reply, if any
  json push_value;
  std::string error_prefix;  // for an error reply
};

Step Cmd(const std::vector<std::string>& argv, std::string reply, std::string reply_type,
         json value, std::string text) {
  Step s;
  s.request = EncodeCommand(argv);
  s.cmd = argv[0];
  s.args = json::array();
  for (size_t i = 1; i < argv.size(); ++i) s.args.push_back(argv[i]);
  s.reply = std::move(reply);
  s.reply_type = std::move(reply_type);
  s.value = std::move(value);
  s.text = std::move(text);
  return s;
}

Step Inline(std::string line, std::string cmd, json args, std::string reply, std::string reply_type,
            json value, std::string text) {
  Step s = Cmd({cmd}, std::move(reply), std::move(reply_type), std::move(value), std::move(text));
  s.request = std::move(line);
  s.args = std::move(args);
  s.inline_cmd = true;
  return s;
}

// Sends the steps with one send() and checks that the server answered exactly as expected.
void Exchange(RawConnection& conn, const std::vector<Step>& steps) {
  std::string out;
  std::string expected;
  for (const Step& s : steps) {
    out += s.request;
    expected += s.reply + s.push;
  }
  conn.Send(out);
  const std::string got = conn.ReadExactly(expected.size());
  if (got != expected) {
    throw std::runtime_error(absl::StrCat("Redis answered \"", absl::CEscape(got), "\" to \"",
                                          absl::CEscape(out), "\", not \"", absl::CEscape(expected),
                                          "\""));
  }
}

// Runs the whole script on a fresh connection, ending with QUIT, and returns its steps.
std::vector<Step> RunScript(RawConnection& conn) {
  const std::string big = [] {
    std::string v;
    for (int i = 0; i < 100; ++i) v += "0123456789";
    return v;
  }();
  const std::string binary(
      "\xff\xfe\x00\x01"
      "abc\x80",
      8);
  const std::string quoted = "he said \"hi\" & 'bye' now";
  const std::string script_true = "redis.setresp(3); return true";
  const std::string script_big = "return {big_number='123456789012345678901234567890'}";
  const std::string script_verbatim = "return {verbatim_string={format='txt', string='hello'}}";

  std::vector<Step> all;
  auto run = [&](std::vector<Step> steps) {
    Exchange(conn, steps);
    all.insert(all.end(), steps.begin(), steps.end());
  };

  run({Cmd({"SET", "k", "v"}, "+OK\r\n", "simple", "OK", "SET k v -> OK")});
  run({Cmd({"GET", "k"}, "$1\r\nv\r\n", "bulk", "v", "GET k -> \"v\"")});
  run({Cmd({"GET", "missing"}, "$-1\r\n", "null", nullptr, "GET missing -> (nil)")});
  run({Cmd({"INCR", "counter"}, ":1\r\n", "integer", 1, "INCR counter -> (integer) 1")});
  run({Cmd({"LPUSH", "list", "a", "b", "c"}, ":3\r\n", "integer", 3,
           "LPUSH list a b c -> (integer) 3")});
  run({Cmd({"LRANGE", "list", "0", "-1"}, "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n", "array",
           {"c", "b", "a"}, "LRANGE list 0 -1 -> *")});
  {
    Step llen =
        Cmd({"LLEN", "k"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
            "error", {{"error", "WRONGTYPE Operation against a key holding the wrong kind of value"}},
            "LLEN k -> (error) WRONGTYPE Operation against a key holding the wrong kind of value");
    llen.error_prefix = "WRONGTYPE";
    run({llen});
  }
  {
    Step set_bin = Cmd({"SET", "bin", binary}, "+OK\r\n", "simple", "OK",
                       R"(SET bin "\xff\xfe\x00\x01abc\x80" -> OK)");
    set_bin.args = {"bin", {{"b64", "//4AAWFiY4A="}}};
    run({set_bin});
  }
  run({Cmd({"GET", "bin"}, "$8\r\n" + binary + "\r\n", "bulk", {{"b64", "//4AAWFiY4A="}},
           R"(GET bin -> "\xff\xfe\x00\x01abc\x80")")});
  run({Cmd({"SET", "quoted", quoted}, "+OK\r\n", "simple", "OK",
           R"(SET quoted "he said \"hi\" & 'bye' now" -> OK)")});
  run({Cmd({"GET", "quoted"}, "$24\r\n" + quoted + "\r\n", "bulk", quoted,
           R"(GET quoted -> "he said \"hi\" & 'bye' now")")});
  {
    // Values past --max-value-bytes (512 by default) keep their first 512 bytes.
    const json cut = {{"truncated", big.substr(0, 512)}, {"len", 1000}};
    Step set_big = Cmd({"SET", "big", big}, "+OK\r\n", "simple", "OK", "SET big *");
    set_big.args = {"big", cut};
    run({set_big});
    run({Cmd({"GET", "big"}, "$1000\r\n" + big + "\r\n", "bulk", cut, "GET big -> *")});
  }
  run({Inline("PING\r\n", "PING", json::array(), "+PONG\r\n", "simple", "PONG", "PING -> PONG")});
  run({Inline("ECHO \"hello world\"\r\n", "ECHO", {"hello world"}, "$11\r\nhello world\r\n", "bulk",
              "hello world", R"(ECHO "hello world" -> "hello world")")});
  {
    std::vector<Step> pipeline;
    for (int i = 0; i < 50; i += 2) {
      const std::string key = absl::StrCat("p:", i);
      const std::string val = absl::StrCat("val-", i);
      pipeline.push_back(Cmd({"SET", key, val}, "+OK\r\n", "simple", "OK",
                             absl::StrCat("SET ", key, " ", val, " -> OK")));
      pipeline.push_back(Cmd({"GET", key}, absl::StrCat("$", val.size(), "\r\n", val, "\r\n"),
                             "bulk", val, absl::StrCat("GET ", key, " -> \"", val, "\"")));
    }
    run(pipeline);
  }

  // RESP3 from here on.
  conn.Send(EncodeCommand({"CLIENT", "ID"}));
  std::string id_reply;
  while (id_reply.size() < 2 || id_reply.substr(id_reply.size() - 2) != "\r\n") {
    id_reply += conn.ReadExactly(1);
  }
  const int64_t id = std::stoll(id_reply.substr(1));
  all.push_back(
      Cmd({"CLIENT", "ID"}, id_reply, "integer", id, absl::StrCat("CLIENT ID -> (integer) ", id)));
  const std::string version = RedisServerVersion();
  run({Cmd({"HELLO", "3"}, HelloReply(version, id), "map", HelloValue(version, id),
           "HELLO 3 -> *")});
  run({Cmd({"GET", "missing"}, "_\r\n", "null", nullptr, "GET missing -> (nil)")});
  run({Cmd({"HSET", "h", "f1", "v1", "f2", "v2"}, ":2\r\n", "integer", 2,
           "HSET h f1 v1 f2 v2 -> (integer) 2")});
  run({Cmd({"HGETALL", "h"}, "%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n", "map",
           json::array({{"f1", "v1"}, {"f2", "v2"}}), "HGETALL h -> *")});
  run({Cmd({"ZADD", "z", "1.5", "m", "inf", "top"}, ":2\r\n", "integer", 2,
           "ZADD z 1.5 m inf top -> (integer) 2")});
  run({Cmd({"ZSCORE", "z", "m"}, ",1.5\r\n", "double", 1.5, "ZSCORE z m -> *")});
  run({Cmd({"ZSCORE", "z", "top"}, ",inf\r\n", "double", "inf", "ZSCORE z top -> *")});
  run({Cmd({"SADD", "s", "a"}, ":1\r\n", "integer", 1, "SADD s a -> (integer) 1")});
  run({Cmd({"SMEMBERS", "s"}, "~1\r\n$1\r\na\r\n", "set", {"a"}, "SMEMBERS s -> *")});
  run({Cmd({"EVAL", script_true, "0"}, "#t\r\n", "boolean", true,
           R"(EVAL "redis.setresp(3); return true" 0 -> *)")});
  run({Cmd({"EVAL", script_big, "0"}, "(123456789012345678901234567890\r\n", "bignum",
           "123456789012345678901234567890", "EVAL \"" + script_big + "\" 0 -> *")});
  run({Cmd({"EVAL", script_verbatim, "0"}, "=9\r\ntxt:hello\r\n", "verbatim", "hello",
           "EVAL \"" + script_verbatim + "\" 0 -> *")});
  run({Cmd({"CLIENT", "TRACKING", "on"}, "+OK\r\n", "simple", "OK", "CLIENT TRACKING on -> OK")});
  run({Cmd({"GET", "k"}, "$1\r\nv\r\n", "bulk", "v", "GET k -> \"v\"")});
  {
    // Writing a key this client tracks invalidates it: Redis pushes that after the reply.
    Step set = Cmd({"SET", "k", "v2"}, "+OK\r\n", "simple", "OK", "SET k v2 -> OK");
    set.push = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";
    set.push_value = {"invalidate", {"k"}};
    run({set});
  }
  run({Cmd({"QUIT"}, "+OK\r\n", "simple", "OK", "QUIT -> OK")});
  conn.ExpectEof();
  conn.Close();
  return all;
}

// A server, a capture of its port, the script over one connection, and the capture complete.
struct ScriptCapture {
  RedisServer server;
  TempDir dir;
  std::vector<Step> steps;
  std::string client;
  uint16_t client_port = 0;
  std::vector<TcpPacket> packets;
  std::string pcap;

  ScriptCapture() {
    pcap = dir.path() + "/script.pcap";
    PacketCapture capture(server.port(), pcap);
    RawConnection conn(server.port());
    client = conn.endpoint();
    client_port = conn.local_port();
    steps = RunScript(conn);
    const PacketCapture::Result stopped = capture.StopOnceClosed(server.port(), 1);
    if (stopped.dropped_by_kernel != 0)
      throw std::runtime_error("tcpdump dropped packets: " + stopped.log);
    packets = ReadPcapFile(pcap);
  }
};

TEST(LiveRedis, RawSocketScriptGivesOneExactRecordPerCommand) {
  ScriptCapture run;
  const std::string server = run.server.endpoint();
  const Trace trace = RunResptrace(run.pcap, run.server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;

  std::vector<json> expected;
  size_t pushes = 0;
  for (const Step& s : run.steps) {
    json r = CommandRecord(run.client, server, s.cmd, s.args, s.reply_type, s.value,
                           s.request.size(), s.reply.size());
    if (s.inline_cmd) r["inline"] = true;
    if (!s.error_prefix.empty()) r["error_prefix"] = s.error_prefix;
    expected.push_back(r);
    if (!s.push.empty()) {
      ++pushes;
      expected.push_back({{"type", "push"},
                          {"client", run.client},
                          {"server", server},
                          {"reply_type", "push"},
                          {"reply", s.push_value},
                          {"reply_bytes", s.push.size()}});
    }
  }
  ASSERT_EQ(trace.records.size(), expected.size()) << trace.summary;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(Timeless(trace.records[i]), expected[i]) << "record " << i;
  }
  ExpectRecordsCoverConnection(trace.records, run.packets, run.client_port, run.server.port());
  // The 1000-byte value, in SET big and in GET big's reply, is kept in part.
  EXPECT_EQ(trace.summary,
            CleanSummary(run.packets.size(), 1, run.steps.size(), run.steps.size(), 0, pushes) +
                "  error replies: 1 WRONGTYPE\n"
                "  cut in records: 2 values past --max-value-bytes, 0 aggregates past --max-elements\n");
}

// HH:MM:SS.uuuuuu of an epoch time in microseconds, in UTC.
std::string ClockUtc(int64_t us) {
  const time_t secs = static_cast<time_t>(us / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
           static_cast<long long>(us % 1000000));
  return buf;
}

TEST(LiveRedis, TextModeWritesOneLinePerCommand) {
  ScriptCapture run;
  const std::string server = run.server.endpoint();
  const Trace json_trace = RunResptrace(run.pcap, run.server.port(), "json");
  const Trace text = RunResptrace(run.pcap, run.server.port(), "text", {"TZ=UTC"});
  ASSERT_EQ(text.exit_status, 0) << text.summary;
  EXPECT_EQ(text.summary, json_trace.summary);
  ASSERT_EQ(json_trace.exit_status, 0) << json_trace.summary;
  size_t pushes = 0;
  for (const Step& s : run.steps) pushes += s.push.empty() ? 0 : 1;
  ASSERT_EQ(json_trace.records.size(), run.steps.size() + pushes);
  ASSERT_EQ(text.lines.size(), json_trace.records.size());

  // The documented form, HH:MM:SS.uuuuuu client -> server CMD args -> reply (N.NNN ms), with
  // the time and latency of the same record in JSON.
  size_t line = 0;
  for (const Step& s : run.steps) {
    SCOPED_TRACE(text.lines[line]);
    const json& r = json_trace.records[line];
    const int64_t latency = r.at("latency_us").get<int64_t>();
    const std::string prefix =
        absl::StrCat(ClockUtc(TsMicros(r)), " ", run.client, " -> ", server, " ");
    const std::string suffix =
        absl::StrCat(" (", latency / 1000, ".", absl::StrFormat("%03d", latency % 1000), " ms)");
    const std::string& got = text.lines[line];
    ASSERT_GE(got.size(), prefix.size() + suffix.size());
    EXPECT_EQ(got.substr(0, prefix.size()), prefix);
    EXPECT_EQ(got.substr(got.size() - suffix.size()), suffix);
    const std::string middle =
        got.substr(prefix.size(), got.size() - prefix.size() - suffix.size());
    if (s.text.back() == '*') {
      EXPECT_EQ(middle.substr(0, s.text.size() - 1), s.text.substr(0, s.text.size() - 1));
    } else {
      EXPECT_EQ(middle, s.text);
    }
    ++line;
    if (!s.push.empty()) {
      EXPECT_THAT(text.lines[line],
                  ::testing::StartsWith(absl::StrCat(ClockUtc(TsMicros(json_trace.records[line])),
                                                     " ", run.client, " <- ", server, " push ")));
      EXPECT_THAT(text.lines[line], HasSubstr("invalidate"));
      ++line;
    }
  }
}

// ---------------------------------------------------------------------------------------------

struct CliRun {
  std::vector<std::string> args;  // after -p PORT
  std::string out;                // redis-cli's standard output; "" when not checked
  std::vector<json> records;      // expected, without client/server/ts/latency_us
};

TEST(LiveRedis, RedisCliCommands) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/cli.pcap";
  const std::string version = RedisServerVersion();
  const std::string wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
  auto rec = [](std::vector<std::string> argv, std::string reply_type, json reply,
                size_t reply_bytes) {
    const size_t req = EncodeCommand(argv).size();
    json args = json::array();
    for (size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i]);
    return CommandRecord("", "", argv[0], args, reply_type, reply, req, reply_bytes);
  };
  // redis-cli 7 run with a command sends just that command, after HELLO 3 with -3: nothing else
  // (COMMAND DOCS is for its interactive hints only).
  std::vector<CliRun> runs = {
      {{"SET", "a", "1"}, "OK\n", {rec({"SET", "a", "1"}, "simple", "OK", 5)}},
      {{"GET", "a"}, "1\n", {rec({"GET", "a"}, "bulk", "1", 7)}},
      {{"INCR", "a"}, "2\n", {rec({"INCR", "a"}, "integer", 2, 4)}},
      {{"RPUSH", "l", "x", "y z"}, "2\n", {rec({"RPUSH", "l", "x", "y z"}, "integer", 2, 4)}},
      {{"LRANGE", "l", "0", "-1"},
       "x\ny z\n",
       {rec({"LRANGE", "l", "0", "-1"}, "array", {"x", "y z"}, 20)}},
      {{"GET", "nope"}, "\n", {rec({"GET", "nope"}, "null", nullptr, 5)}},
      {{"LLEN", "a"},
       "",
       {[&] {
         json r = rec({"LLEN", "a"}, "error", {{"error", wrongtype}}, wrongtype.size() + 3);
         r["error_prefix"] = "WRONGTYPE";
         return r;
       }()}},
      {{"HSET", "h", "f", "v"}, "1\n", {rec({"HSET", "h", "f", "v"}, "integer", 1, 4)}},
      {{"-3", "HGETALL", "h"},
       "f v\n",
       {rec({"HELLO", "3"}, "map", nullptr, 0),
        rec({"HGETALL", "h"}, "map", json::array({{"f", "v"}}), 18)}},
  };
  {
    PacketCapture capture(server.port(), pcap);
    for (const CliRun& run : runs) {
      std::vector<std::string> argv = {"redis-cli", "-p", std::to_string(server.port())};
      argv.insert(argv.end(), run.args.begin(), run.args.end());
      const ProcessResult r = RunProcess(argv);
      ASSERT_EQ(r.exit_status, 0) << r.err;
      if (!run.out.empty()) {
        EXPECT_EQ(r.out, run.out);
      }
    }
    ASSERT_EQ(capture.StopOnceClosed(server.port(), runs.size()).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const std::vector<uint16_t> clients = ClientPorts(packets, server.port());
  ASSERT_EQ(clients.size(), runs.size());

  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  // One connection after the other, so the records come in the order of the runs.
  size_t next = 0;
  size_t commands = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("redis-cli ", absl::StrJoin(runs[i].args, " ")));
    const std::string client = absl::StrCat("127.0.0.1:", clients[i]);
    for (json want : runs[i].records) {
      ASSERT_LT(next, trace.records.size());
      const json& got = trace.records[next++];
      want["client"] = client;
      want["server"] = server.endpoint();
      if (want["cmd"] == "HELLO") {
        // The reply carries the connection's id: take it from the record, check the rest.
        const int64_t id = got.at("reply").at(3).at(1).get<int64_t>();
        want["reply"] = HelloValue(version, id);
        want["reply_bytes"] = HelloReply(version, id).size();
      }
      EXPECT_EQ(Timeless(got), want);
      ++commands;
    }
    ExpectRecordsCoverConnection(RecordsOf(trace.records, client), packets, clients[i],
                                 server.port());
  }
  EXPECT_EQ(next, trace.records.size());
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), runs.size(), commands, commands, 0, 0) +
                               "  error replies: 1 WRONGTYPE\n");
}

// ---------------------------------------------------------------------------------------------

// CLIENT REPLY OFF / ON / SKIP on one connection: the server answers exactly what Exchange()
// expects, and every command's record has its own reply or none.
TEST(LiveRedis, ClientReplyModesLeaveNoReplyOnTheWrongCommand) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/reply-mode.pcap";
  // A command the server does not answer.
  auto silent = [](const std::vector<std::string>& argv) {
    Step s = Cmd(argv, "", "none", nullptr, "");
    s.cmd = absl::AsciiStrToUpper(argv[0]);
    return s;
  };
  std::vector<Step> steps;
  std::string client;
  uint16_t client_port = 0;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection conn(server.port());
    client = conn.endpoint();
    client_port = conn.local_port();
    // Each run is one send(): its commands are pipelined.
    auto run = [&](std::vector<Step> pipeline) {
      Exchange(conn, pipeline);
      steps.insert(steps.end(), pipeline.begin(), pipeline.end());
    };
    run({Cmd({"SET", "n", "1"}, "+OK\r\n", "simple", "OK", "")});
    run({silent({"CLIENT", "REPLY", "OFF"}), silent({"INCR", "n"}), silent({"GET", "n"})});
    // Not even the error for a bad argument is sent.
    run({silent({"client", "reply", "bad"})});
    run({Cmd({"CLIENT", "REPLY", "ON"}, "+OK\r\n", "simple", "OK", ""),
         Cmd({"GET", "n"}, "$1\r\n2\r\n", "bulk", "2", "")});
    run({silent({"CLIENT", "REPLY", "SKIP"}), silent({"INCR", "n"}),
         Cmd({"GET", "n"}, "$1\r\n3\r\n", "bulk", "3", "")});
    {
      Step bad = Cmd({"CLIENT", "REPLY", "bad"}, "-ERR syntax error\r\n", "error",
                     {{"error", "ERR syntax error"}}, "");
      bad.error_prefix = "ERR";
      run({bad});
    }
    // SKIP while replies are off does nothing: ON and the PING after it are answered.
    run({silent({"Client", "Reply", "Off"}), silent({"CLIENT", "REPLY", "SKIP"}),
         Cmd({"CLIENT", "REPLY", "ON"}, "+OK\r\n", "simple", "OK", ""),
         Cmd({"PING"}, "+PONG\r\n", "simple", "PONG", "")});
    run({Cmd({"QUIT"}, "+OK\r\n", "simple", "OK", "")});
    conn.ExpectEof();
    conn.Close();
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 1).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;

  ASSERT_EQ(trace.records.size(), steps.size()) << trace.summary;
  size_t replies = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    json want = CommandRecord(client, server.endpoint(), s.cmd, s.args, s.reply_type, s.value,
                              s.request.size(), s.reply.size());
    if (s.reply.empty()) {
      want["no_reply"] = "reply_off";
    } else {
      ++replies;
    }
    if (!s.error_prefix.empty()) want["error_prefix"] = s.error_prefix;
    EXPECT_EQ(Timeless(trace.records[i]), want) << "record " << i;
  }
  ExpectRecordsCoverConnection(trace.records, packets, client_port, server.port());
  EXPECT_EQ(trace.summary,
            CleanSummary(packets.size(), 1, steps.size(), replies, steps.size() - replies, 0) +
                "  error replies: 1 ERR\n");
}

// Pub/sub: a raw-socket subscriber (RESP2, or RESP3 after HELLO 3) and a publisher. The
// subscriber's commands each take their own confirmations, the messages are pushes, and once
// the last subscription goes an array that reads like a message is a reply again.
void ExpectPubSubRecords(bool resp3) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/pubsub.pcap";
  const std::string agg = resp3 ? ">" : "*";
  const std::string push_type = resp3 ? "push" : "array";
  auto bulk = [](const std::string& s) { return absl::StrCat("$", s.size(), "\r\n", s, "\r\n"); };
  auto confirmation = [&](const std::string& kind, const std::string& channel, int n) {
    return absl::StrCat(agg, "3\r\n", bulk(kind), bulk(channel), ":", n, "\r\n");
  };
  std::vector<json> want_sub;
  std::vector<json> want_pub;
  std::string sub_client;
  std::string pub_client;
  uint16_t sub_port = 0;
  uint16_t pub_port = 0;
  size_t commands = 0;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection sub(server.port());
    RawConnection pub(server.port());
    sub_client = sub.endpoint();
    pub_client = pub.endpoint();
    sub_port = sub.local_port();
    pub_port = pub.local_port();
    // Sends one command and checks the exact reply; returns its record.
    auto command = [&](RawConnection& conn, const std::vector<std::string>& argv, const std::string& reply,
                       const std::string& reply_type, json value) {
      const std::string request = EncodeCommand(argv);
      conn.Send(request);
      const std::string got = conn.ReadExactly(reply.size());
      if (got != reply) {
        throw std::runtime_error(absl::StrCat("Redis answered \"", absl::CEscape(got), "\" to ",
                                              argv[0], ", not \"", absl::CEscape(reply), "\""));
      }
      ++commands;
      json args = json::array();
      for (size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i]);
      return CommandRecord(conn.endpoint(), server.endpoint(), absl::AsciiStrToUpper(argv[0]), args,
                           reply_type, std::move(value), request.size(), reply.size());
    };
    // A command answered by confirmations: `reply` is the first, `replies` all of them.
    auto subscribing = [&](const std::vector<std::string>& argv, const std::vector<std::string>& wire,
                           const std::vector<json>& values) {
      json r = command(sub, argv, absl::StrJoin(wire, ""), push_type, values[0]);
      r["replies"] = values;
      return r;
    };
    // A message the subscriber gets when the publisher publishes.
    auto publish = [&](const std::string& channel, const std::string& payload, const std::string& message,
                       json value) {
      want_pub.push_back(command(pub, {"PUBLISH", channel, payload}, ":1\r\n", "integer", 1));
      const std::string got = sub.ReadExactly(message.size());
      if (got != message) throw std::runtime_error("unexpected message " + absl::CEscape(got));
      want_sub.push_back({{"type", "push"},          {"client", sub_client}, {"server", server.endpoint()},
                          {"reply_type", push_type}, {"reply", value},       {"reply_bytes", message.size()}});
    };

    if (resp3) {
      sub.Send(EncodeCommand({"CLIENT", "ID"}));
      std::string id_reply;
      while (id_reply.size() < 2 || id_reply.substr(id_reply.size() - 2) != "\r\n") {
        id_reply += sub.ReadExactly(1);
      }
      const int64_t id = std::stoll(id_reply.substr(1));
      ++commands;
      want_sub.push_back(CommandRecord(sub_client, server.endpoint(), "CLIENT", {"ID"}, "integer", id,
                                       EncodeCommand({"CLIENT", "ID"}).size(), id_reply.size()));
      const std::string version = RedisServerVersion();
      want_sub.push_back(command(sub, {"HELLO", "3"}, HelloReply(version, id), "map", HelloValue(version, id)));
    }
    want_sub.push_back(subscribing(
        {"SUBSCRIBE", "a", "b", "c"},
        {confirmation("subscribe", "a", 1), confirmation("subscribe", "b", 2), confirmation("subscribe", "c", 3)},
        {{"subscribe", "a", 1}, {"subscribe", "b", 2}, {"subscribe", "c", 3}}));
    want_sub.push_back(subscribing({"psubscribe", "p*"}, {confirmation("psubscribe", "p*", 4)},
                                   {{"psubscribe", "p*", 4}}));
    publish("b", "hello", absl::StrCat(agg, "3\r\n", bulk("message"), bulk("b"), bulk("hello")),
            {"message", "b", "hello"});
    publish("pq", "x", absl::StrCat(agg, "4\r\n", bulk("pmessage"), bulk("p*"), bulk("pq"), bulk("x")),
            {"pmessage", "p*", "pq", "x"});
    // RESP2 subscribed mode answers PING with an array; RESP3 as ever, and runs any command.
    if (resp3) {
      want_sub.push_back(command(sub, {"PING"}, "+PONG\r\n", "simple", "PONG"));
      want_sub.push_back(command(sub, {"GET", "k"}, "_\r\n", "null", nullptr));
    } else {
      want_sub.push_back(command(sub, {"PING"}, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", "array", {"pong", ""}));
    }
    {
      // UNSUBSCRIBE without arguments: one confirmation per channel, in the server's order.
      const std::string request = EncodeCommand({"UNSUBSCRIBE"});
      sub.Send(request);
      std::vector<std::string> wire;
      json values = json::array();
      std::set<std::string> channels;
      for (int left = 3; left > 0; --left) {
        const std::string got = sub.ReadExactly(confirmation("unsubscribe", "a", left).size());
        const std::string channel = got.substr(got.find("\r\n$1\r\n") + 6, 1);
        if (got != confirmation("unsubscribe", channel, left)) {
          throw std::runtime_error("unexpected confirmation " + absl::CEscape(got));
        }
        channels.insert(channel);
        wire.push_back(got);
        values.push_back({"unsubscribe", channel, left});
      }
      EXPECT_EQ(channels, (std::set<std::string>{"a", "b", "c"}));
      ++commands;
      json r = CommandRecord(sub_client, server.endpoint(), "UNSUBSCRIBE", json::array(), push_type, values[0],
                             request.size(), absl::StrJoin(wire, "").size());
      r["replies"] = values;
      want_sub.push_back(r);
    }
    // The last subscription goes: out of subscribed mode.
    want_sub.push_back(subscribing({"PUNSUBSCRIBE"}, {confirmation("punsubscribe", "p*", 0)},
                                   {{"punsubscribe", "p*", 0}}));
    want_sub.push_back(command(sub, {"RPUSH", "l", "message", "x", "y"}, ":3\r\n", "integer", 3));
    want_sub.push_back(command(sub, {"LRANGE", "l", "0", "-1"},
                               absl::StrCat("*3\r\n", bulk("message"), bulk("x"), bulk("y")), "array",
                               {"message", "x", "y"}));
    want_sub.push_back(command(sub, {"QUIT"}, "+OK\r\n", "simple", "OK"));
    want_pub.push_back(command(pub, {"QUIT"}, "+OK\r\n", "simple", "OK"));
    sub.ExpectEof();
    pub.ExpectEof();
    sub.Close();
    pub.Close();
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 2).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  for (const auto& [client, want] : {std::pair{sub_client, want_sub}, std::pair{pub_client, want_pub}}) {
    const std::vector<json> got = RecordsOf(trace.records, client);
    ASSERT_EQ(got.size(), want.size()) << client << "\n" << trace.summary;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(Timeless(got[i]), want[i]) << client << " record " << i;
    }
  }
  ExpectRecordsCoverConnection(RecordsOf(trace.records, sub_client), packets, sub_port, server.port());
  ExpectRecordsCoverConnection(RecordsOf(trace.records, pub_client), packets, pub_port, server.port());
  EXPECT_EQ(trace.records.size(), want_sub.size() + want_pub.size());
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 2, commands, commands, 0, 2));
}

TEST(LiveRedis, PubSubResp2) { ExpectPubSubRecords(/*resp3=*/false); }

TEST(LiveRedis, PubSubResp3) { ExpectPubSubRecords(/*resp3=*/true); }

// MULTI / EXEC / DISCARD, with WATCH: each queued command's record keeps its QUEUED reply and
// carries its own result from EXEC's array, or what became of the transaction.
TEST(LiveRedis, TransactionsLinkEachQueuedCommandToItsResult) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/multi.pcap";
  const std::string unknown = "ERR unknown command 'NOSUCHCMD', with args beginning with: ";
  const std::string execabort = "EXECABORT Transaction discarded because of previous errors.";
  auto ok = [](const std::vector<std::string>& argv) {
    return Cmd(argv, "+OK\r\n", "simple", "OK", "");
  };
  auto queued = [](const std::vector<std::string>& argv) {
    return Cmd(argv, "+QUEUED\r\n", "simple", "QUEUED", "");
  };
  // Each step, and the fields its record has beyond CommandRecord's.
  std::vector<std::pair<Step, json>> steps;
  std::vector<Step> other_steps;
  std::string client;
  std::string other_client;
  uint16_t client_port = 0;
  uint16_t other_port = 0;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection conn(server.port());
    RawConnection other(server.port());
    client = conn.endpoint();
    client_port = conn.local_port();
    other_client = other.endpoint();
    other_port = other.local_port();
    // Each run is one send(): its commands are pipelined.
    auto run = [&](std::vector<std::pair<Step, json>> pipeline) {
      std::vector<Step> sent;
      for (const auto& [step, extra] : pipeline) sent.push_back(step);
      Exchange(conn, sent);
      steps.insert(steps.end(), pipeline.begin(), pipeline.end());
    };
    const json none = json::object();
    auto ran = [](json result) { return json{{"transaction", "exec"}, {"exec_result", result}}; };
    run({{ok({"MULTI"}), none},
         {queued({"SET", "k", "v"}), ran("OK")},
         {queued({"INCR", "n"}), ran(1)},
         {queued({"GET", "k"}), ran("v")},
         {Cmd({"EXEC"}, "*3\r\n+OK\r\n:1\r\n$1\r\nv\r\n", "array", {"OK", 1, "v"}, ""), none}});
    // A command rejected while queuing: EXEC runs none.
    run({{ok({"MULTI"}), none},
         {queued({"SET", "k", "v2"}), {{"transaction", "execabort"}}},
         {Cmd({"NOSUCHCMD"}, "-" + unknown + "\r\n", "error", {{"error", unknown}}, ""),
          {{"error_prefix", "ERR"}, {"unknown", true}}},
         {queued({"INCR", "n"}), {{"transaction", "execabort"}}},
         {Cmd({"EXEC"}, "-" + execabort + "\r\n", "error", {{"error", execabort}}, ""),
          {{"error_prefix", "EXECABORT"}}}});
    // A watched key written by another client: EXEC answers null.
    run({{ok({"WATCH", "k"}), none}});
    {
      std::vector<Step> set = {ok({"SET", "k", "other"})};
      Exchange(other, set);
      other_steps.insert(other_steps.end(), set.begin(), set.end());
    }
    run({{ok({"MULTI"}), none},
         {queued({"GET", "k"}), {{"transaction", "watch_abort"}}},
         {Cmd({"EXEC"}, "*-1\r\n", "null", nullptr, ""), none}});
    run({{ok({"MULTI"}), none},
         {queued({"INCR", "n"}), {{"transaction", "discard"}}},
         {ok({"DISCARD"}), none}});
    // Nothing ran: n is still 1.
    run({{Cmd({"GET", "n"}, "$1\r\n1\r\n", "bulk", "1", ""), none}, {ok({"QUIT"}), none}});
    conn.ExpectEof();
    conn.Close();
    {
      std::vector<Step> quit = {ok({"QUIT"})};
      Exchange(other, quit);
      other_steps.insert(other_steps.end(), quit.begin(), quit.end());
    }
    other.ExpectEof();
    other.Close();
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 2).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;

  const std::vector<json> records = RecordsOf(trace.records, client);
  ASSERT_EQ(records.size(), steps.size()) << trace.summary;
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& [s, extra] = steps[i];
    json want = CommandRecord(client, server.endpoint(), s.cmd, s.args, s.reply_type, s.value,
                              s.request.size(), s.reply.size());
    want.update(extra);
    EXPECT_EQ(Timeless(records[i]), want) << "record " << i;
  }
  ExpectRecordsCoverConnection(records, packets, client_port, server.port());
  const std::vector<json> other_records = RecordsOf(trace.records, other_client);
  ASSERT_EQ(other_records.size(), other_steps.size());
  for (size_t i = 0; i < other_steps.size(); ++i) {
    const Step& s = other_steps[i];
    EXPECT_EQ(Timeless(other_records[i]),
              CommandRecord(other_client, server.endpoint(), s.cmd, s.args, s.reply_type, s.value,
                            s.request.size(), s.reply.size()));
  }
  ExpectRecordsCoverConnection(other_records, packets, other_port, server.port());
  const size_t commands = steps.size() + other_steps.size();
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 2, commands, commands, 0, 0) +
                               "  error replies: 1 ERR, 1 EXECABORT\n");

  // Text: the result after the QUEUED reply.
  const Trace text = RunResptrace(pcap, server.port(), "text");
  ASSERT_EQ(text.exit_status, 0) << text.summary;
  std::vector<std::string> queued_lines;
  for (const std::string& line : text.lines) {
    if (line.find(client + " -> ") != std::string::npos && line.find(" -> QUEUED (") != std::string::npos)
      queued_lines.push_back(line.substr(line.find(" ms) ") + 5));
  }
  EXPECT_EQ(queued_lines,
            (std::vector<std::string>{"[exec -> OK]", "[exec -> (integer) 1]", "[exec -> \"v\"]",
                                      "[execabort]", "[execabort]", "[watch_abort]", "[discard]"}));
}

TEST(LiveRedis, RedisBenchmarkPipelined) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/bench.pcap";
  constexpr int kRequests = 2000;
  constexpr int kClients = 10;
  // redis-benchmark 7 reads the server's save and appendonly settings on a connection of its
  // own, then opens kClients connections per test.
  constexpr size_t kConnections = 1 + 2 * kClients;
  {
    PacketCapture capture(server.port(), pcap);
    const ProcessResult r = RunProcess(
        {"redis-benchmark", "-p", std::to_string(server.port()), "-n", std::to_string(kRequests),
         "-c", std::to_string(kClients), "-P", "16", "-t", "set,get", "-q"});
    ASSERT_EQ(r.exit_status, 0) << r.err;
    ASSERT_EQ(capture.StopOnceClosed(server.port(), kConnections).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const std::vector<uint16_t> clients = ClientPorts(packets, server.port());
  ASSERT_EQ(clients.size(), kConnections);

  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  ASSERT_EQ(trace.records.size(), size_t{2 * kRequests + 2}) << trace.summary;

  const std::string key = "key:__rand_int__";
  int sets = 0;
  int gets = 0;
  int configs = 0;
  std::string value;  // every SET writes the same value to the same key
  for (const json& r : trace.records) {
    SCOPED_TRACE(r.dump());
    ASSERT_EQ(r.at("type"), "command");
    ASSERT_EQ(r.at("server"), server.endpoint());
    ASSERT_FALSE(r.contains("no_reply"));
    ASSERT_NE(r.at("reply_type"), "none");
    const std::string cmd = r.at("cmd").get<std::string>();
    if (cmd == "SET") {
      ++sets;
      ASSERT_EQ(r.at("args").size(), 2u);
      ASSERT_EQ(r.at("args")[0], key);
      if (value.empty()) value = r.at("args")[1].get<std::string>();
      ASSERT_EQ(Timeless(r), CommandRecord(r.at("client").get<std::string>(), server.endpoint(),
                                           "SET", {key, value}, "simple", "OK",
                                           EncodeCommand({"SET", key, value}).size(), 5));
    } else if (cmd == "GET") {
      ++gets;
      ASSERT_FALSE(value.empty()) << "GET before any SET";
      ASSERT_EQ(Timeless(r),
                CommandRecord(r.at("client").get<std::string>(), server.endpoint(), "GET", {key},
                              "bulk", value, EncodeCommand({"GET", key}).size(),
                              absl::StrCat("$", value.size(), "\r\n", value, "\r\n").size()));
    } else {
      ASSERT_EQ(cmd, "CONFIG");
      const std::string setting = configs++ == 0 ? "save" : "appendonly";
      const std::string current = setting == "save" ? "" : "no";
      ASSERT_EQ(Timeless(r), CommandRecord(r.at("client").get<std::string>(), server.endpoint(),
                                           "CONFIG", {"GET", setting}, "array", {setting, current},
                                           EncodeCommand({"CONFIG", "GET", setting}).size(),
                                           EncodeCommand({setting, current}).size()));
    }
  }
  EXPECT_EQ(sets, kRequests);
  EXPECT_EQ(gets, kRequests);
  EXPECT_EQ(configs, 2);
  EXPECT_EQ(value.size(), 3u) << "redis-benchmark's default value size";
  for (uint16_t c : clients) {
    ExpectRecordsCoverConnection(RecordsOf(trace.records, absl::StrCat("127.0.0.1:", c)), packets,
                                 c, server.port());
  }
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), kConnections, trace.records.size(),
                                        trace.records.size(), 0, 0));
}

// ---------------------------------------------------------------------------------------------

TEST(LiveRedis, CommandStillBlockedWhenCaptureEndsHasNoReply) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/blocked.pcap";
  const std::string del = EncodeCommand({"DEL", "emptylist"});
  const std::string blpop = EncodeCommand({"BLPOP", "emptylist", "0"});
  PacketCapture capture(server.port(), pcap);
  RawConnection conn(server.port());
  conn.Send(del);
  ASSERT_EQ(conn.ReadExactly(4), ":0\r\n");
  conn.Send(blpop);
  capture.WaitFor(
      [&](const std::vector<TcpPacket>& packets) {
        size_t sent = 0;
        for (const TcpPacket& t : packets) {
          if (t.src_port == conn.local_port() && t.dst_port == server.port()) {
            sent += t.payload.size();
          }
        }
        return sent == del.size() + blpop.size();
      },
      "the BLPOP request");
  ASSERT_EQ(capture.Stop().dropped_by_kernel, 0u);
  conn.Close();  // only now: BLPOP blocked all through the capture
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);

  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  json blocked = CommandRecord(conn.endpoint(), server.endpoint(), "BLPOP", {"emptylist", "0"},
                               "none", nullptr, blpop.size(), 0);
  blocked["no_reply"] = "eof";
  ASSERT_EQ(trace.records.size(), 2u) << trace.summary;
  EXPECT_EQ(Timeless(trace.records[0]), CommandRecord(conn.endpoint(), server.endpoint(), "DEL",
                                                      {"emptylist"}, "integer", 0, del.size(), 4));
  EXPECT_EQ(Timeless(trace.records[1]), blocked);
  ExpectRecordsCoverConnection(trace.records, packets, conn.local_port(), server.port());
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 1, 2, 1, 1, 0));
}

// Reads one line the server sends (a status, an error, an integer or a bulk string's header),
// CRLF included.
std::string ReadLine(RawConnection& conn) {
  std::string line;
  while (line.size() < 2 || line.substr(line.size() - 2) != "\r\n") line += conn.ReadExactly(1);
  return line;
}

// MONITOR: one connection monitors while another runs commands. After MONITOR's +OK every line
// the server feeds is a push record; the other connection's records are as ever. Redis itself
// hides AUTH's password in what it feeds; --redact-values hides the lines as any reply value.
TEST(LiveRedis, MonitorLinesArePushesAndOtherConnectionsAreUnaffected) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/monitor.pcap";
  const std::string password = "zx81-monitor-password";
  std::vector<json> want_mon;
  std::vector<json> want_other;
  std::string mon_client;
  std::string other_client;
  uint16_t mon_port = 0;
  uint16_t other_port = 0;
  std::vector<std::string> lines;  // what MONITOR fed, without '+' and CRLF
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection mon(server.port());
    RawConnection other(server.port());
    mon_client = mon.endpoint();
    other_client = other.endpoint();
    mon_port = mon.local_port();
    other_port = other.local_port();
    auto command = [&](RawConnection& conn, const std::vector<std::string>& argv, const std::string& reply,
                       const std::string& reply_type, json value) {
      const std::string request = EncodeCommand(argv);
      conn.Send(request);
      EXPECT_EQ(conn.ReadExactly(reply.size()), reply) << argv[0];
      json args = json::array();
      for (size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i]);
      return CommandRecord(conn.endpoint(), server.endpoint(), argv[0], args, reply_type, std::move(value),
                           request.size(), reply.size());
    };
    want_mon.push_back(command(mon, {"MONITOR"}, "+OK\r\n", "simple", "OK"));
    want_other.push_back(command(other, {"SET", "k", "v"}, "+OK\r\n", "simple", "OK"));
    want_other.push_back(command(other, {"GET", "k"}, "$1\r\nv\r\n", "bulk", "v"));
    {
      const std::string request = EncodeCommand({"AUTH", password});
      other.Send(request);
      const std::string error = ReadLine(other);
      ASSERT_EQ(error.substr(0, 5), "-ERR ");
      json r = CommandRecord(other_client, server.endpoint(), "AUTH", json::array({{{"redacted", true}}}), "error",
                             {{"error", error.substr(1, error.size() - 3)}}, request.size(), error.size());
      r["error_prefix"] = "ERR";
      want_other.push_back(r);
    }
    for (const char* args : {R"("SET" "k" "v")", R"("GET" "k")", R"x("AUTH" "(redacted)")x"}) {
      const std::string line = ReadLine(mon);
      const std::string text = line.substr(1, line.size() - 3);
      EXPECT_EQ(line[0], '+');
      EXPECT_THAT(text, ::testing::EndsWith(absl::StrCat(" [0 ", other_client, "] ", args)));
      lines.push_back(text);
      want_mon.push_back({{"type", "push"},       {"client", mon_client}, {"server", server.endpoint()},
                          {"reply_type", "simple"}, {"reply", text},      {"reply_bytes", line.size()}});
    }
    want_mon.push_back(command(mon, {"QUIT"}, "+OK\r\n", "simple", "OK"));
    mon.ExpectEof();
    mon.Close();
    want_other.push_back(command(other, {"QUIT"}, "+OK\r\n", "simple", "OK"));
    other.ExpectEof();
    other.Close();
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 2).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  for (const auto& [client, want] : {std::pair{mon_client, want_mon}, std::pair{other_client, want_other}}) {
    const std::vector<json> got = RecordsOf(trace.records, client);
    ASSERT_EQ(got.size(), want.size()) << client << "\n" << trace.summary;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(Timeless(got[i]), want[i]) << client << " record " << i;
  }
  ExpectRecordsCoverConnection(RecordsOf(trace.records, mon_client), packets, mon_port, server.port());
  ExpectRecordsCoverConnection(RecordsOf(trace.records, other_client), packets, other_port, server.port());
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 2, 6, 6, 0, 3) + "  error replies: 1 ERR\n");

  const Trace redacted = RunResptrace(pcap, server.port(), "json", {}, {"--redact-values"});
  const Trace text = RunResptrace(pcap, server.port(), "text", {}, {"--redact-values"});
  const Trace plain_text = RunResptrace(pcap, server.port(), "text");
  for (const Trace* t : {&trace, &redacted, &text, &plain_text}) {
    ASSERT_EQ(t->exit_status, 0) << t->summary;
    EXPECT_EQ(absl::StrJoin(t->lines, "\n").find(password), std::string::npos);
  }
  const std::vector<json> hidden = RecordsOf(redacted.records, mon_client);
  ASSERT_EQ(hidden.size(), want_mon.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(hidden[i + 1]["reply"], json({{"redacted", true}, {"len", lines[i].size()}}));
  }
  // Text escapes the lines' quotes: their timestamp and client, before the first quote, show.
  for (const std::string& line : lines) {
    const std::string head = line.substr(0, line.find('"'));
    EXPECT_EQ(absl::StrJoin(text.lines, "\n").find(head), std::string::npos);
    EXPECT_THAT(absl::StrJoin(plain_text.lines, "\n"), HasSubstr(head));
  }
}

// QUIT: answered +OK, then the server closes; a command pipelined after it gets no reply.
TEST(LiveRedis, CommandsPipelinedAfterQuitAreClosed) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/quit.pcap";
  const std::string ping = EncodeCommand({"PING"});
  const std::string quit = EncodeCommand({"QUIT"});
  std::string client;
  uint16_t client_port = 0;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection conn(server.port());
    client = conn.endpoint();
    client_port = conn.local_port();
    conn.Send(ping + quit + ping);
    ASSERT_EQ(conn.ReadExactly(12), "+PONG\r\n+OK\r\n");
    conn.ExpectEof();
    conn.Close();
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 1).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  json after = CommandRecord(client, server.endpoint(), "PING", json::array(), "none", nullptr, ping.size(), 0);
  after["no_reply"] = "closed";
  ASSERT_EQ(trace.records.size(), 3u) << trace.summary;
  EXPECT_EQ(Timeless(trace.records[0]),
            CommandRecord(client, server.endpoint(), "PING", json::array(), "simple", "PONG", ping.size(), 7));
  EXPECT_EQ(Timeless(trace.records[1]),
            CommandRecord(client, server.endpoint(), "QUIT", json::array(), "simple", "OK", quit.size(), 5));
  EXPECT_EQ(Timeless(trace.records[2]), after);
  ExpectRecordsCoverConnection(trace.records, packets, client_port, server.port());
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 1, 3, 2, 1, 0));
}

// Blocking commands: a BLPOP that times out gets a null reply after the real wait, and one that
// another connection's RPUSH serves takes the pushed element, its latency covering the wait.
TEST(LiveRedis, BlockingCommandsReportTheRealWait) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/blocking.pcap";
  const std::string timed_out = EncodeCommand({"BLPOP", "empty", "1"});
  const std::string served = EncodeCommand({"BLPOP", "jobs", "10"});
  const std::string served_reply = "*2\r\n$4\r\njobs\r\n$5\r\njob-1\r\n";
  const std::string quit = EncodeCommand({"QUIT"});
  std::string waiter_client;
  std::string pusher_client;
  uint16_t waiter_port = 0;
  uint16_t pusher_port = 0;
  size_t polls = 0;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection waiter(server.port());
    RawConnection pusher(server.port());
    waiter_client = waiter.endpoint();
    pusher_client = pusher.endpoint();
    waiter_port = waiter.local_port();
    pusher_port = pusher.local_port();
    waiter.Send(timed_out);
    ASSERT_EQ(waiter.ReadExactly(5), "*-1\r\n");
    waiter.Send(served);
    // Pushes only once the server holds the BLPOP blocked.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (bool blocked = false; !blocked;) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "BLPOP never blocked";
      pusher.Send(EncodeCommand({"INFO", "clients"}));
      const std::string header = ReadLine(pusher);
      const std::string body = pusher.ReadExactly(std::stoul(header.substr(1)) + 2);
      blocked = body.find("blocked_clients:1\r\n") != std::string::npos;
      ++polls;
    }
    pusher.Send(EncodeCommand({"RPUSH", "jobs", "job-1"}));
    ASSERT_EQ(pusher.ReadExactly(4), ":1\r\n");
    ASSERT_EQ(waiter.ReadExactly(served_reply.size()), served_reply);
    for (RawConnection* conn : {&waiter, &pusher}) {
      conn->Send(quit);
      ASSERT_EQ(conn->ReadExactly(5), "+OK\r\n");
      conn->ExpectEof();
      conn->Close();
    }
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 2).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  const std::vector<json> waits = RecordsOf(trace.records, waiter_client);
  const std::vector<json> pushes = RecordsOf(trace.records, pusher_client);
  ASSERT_EQ(waits.size(), 3u) << trace.summary;
  ASSERT_EQ(pushes.size(), polls + 2) << trace.summary;
  const std::string srv = server.endpoint();
  EXPECT_EQ(Timeless(waits[0]),
            CommandRecord(waiter_client, srv, "BLPOP", {"empty", "1"}, "null", nullptr, timed_out.size(), 5));
  EXPECT_EQ(Timeless(waits[1]), CommandRecord(waiter_client, srv, "BLPOP", {"jobs", "10"}, "array",
                                              {"jobs", "job-1"}, served.size(), served_reply.size()));
  EXPECT_EQ(Timeless(waits[2]), CommandRecord(waiter_client, srv, "QUIT", json::array(), "simple", "OK",
                                              quit.size(), 5));
  EXPECT_GE(waits[0].at("latency_us").get<double>(), 1e6);
  const json& rpush = pushes[polls];
  EXPECT_EQ(rpush.at("cmd"), "RPUSH");
  EXPECT_GE(waits[1].at("latency_us").get<double>(), static_cast<double>(TsMicros(rpush) - TsMicros(waits[1])));
  ExpectRecordsCoverConnection(waits, packets, waiter_port, server.port());
  ExpectRecordsCoverConnection(pushes, packets, pusher_port, server.port());
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 2, polls + 5, polls + 5, 0, 0));
}

// Every blocking command, pipelined, each timing out: a null reply (WAIT's is its count of
// replicas) after its own wait, each on its own command.
TEST(LiveRedis, EveryBlockingCommandTimesOutWithANullReply) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/blocking-all.pcap";
  struct Blocking {
    std::vector<std::string> argv;
    std::string reply;
    std::string reply_type;
    json value;
    double wait_us;
  };
  const std::vector<Blocking> cmds = {
      {{"BRPOP", "q", "0.1"}, "*-1\r\n", "null", nullptr, 1e5},
      {{"BLMOVE", "q", "r", "LEFT", "RIGHT", "0.1"}, "*-1\r\n", "null", nullptr, 1e5},
      {{"BLMPOP", "0.1", "1", "q", "LEFT"}, "*-1\r\n", "null", nullptr, 1e5},
      {{"BZPOPMIN", "z", "0.1"}, "*-1\r\n", "null", nullptr, 1e5},
      {{"XREAD", "BLOCK", "100", "STREAMS", "s", "$"}, "*-1\r\n", "null", nullptr, 1e5},
      {{"XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s", ">"}, "*-1\r\n", "null", nullptr, 1e5},
      {{"WAIT", "1", "100"}, ":0\r\n", "integer", 0, 1e5},
  };
  const std::string group = EncodeCommand({"XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"});
  std::string client;
  uint16_t client_port = 0;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection conn(server.port());
    client = conn.endpoint();
    client_port = conn.local_port();
    conn.Send(group);
    ASSERT_EQ(conn.ReadExactly(5), "+OK\r\n");
    std::string pipeline;
    std::string replies;
    for (const Blocking& b : cmds) {
      pipeline += EncodeCommand(b.argv);
      replies += b.reply;
    }
    conn.Send(pipeline);
    ASSERT_EQ(conn.ReadExactly(replies.size(), milliseconds(10000)), replies);
    conn.Close();
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 1).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  ASSERT_EQ(trace.records.size(), cmds.size() + 1) << trace.summary;
  const std::string srv = server.endpoint();
  for (size_t i = 0; i < cmds.size(); ++i) {
    const Blocking& b = cmds[i];
    const json& r = trace.records[i + 1];
    json args = json::array();
    for (size_t a = 1; a < b.argv.size(); ++a) args.push_back(b.argv[a]);
    json want = CommandRecord(client, srv, b.argv[0], args, b.reply_type, b.value, EncodeCommand(b.argv).size(),
                              b.reply.size());
    // The command table's keys, from the key specs.
    want["keys"] = r.at("keys");
    EXPECT_EQ(Timeless(r), want) << "record " << i + 1;
    // Pipelined: each waits behind the ones before it, and for its own timeout.
    EXPECT_GE(r.at("latency_us").get<double>(), b.wait_us) << r.dump();
  }
  EXPECT_EQ(trace.records[2].at("keys"), json({"q", "r"}));
  EXPECT_EQ(trace.records[6].at("keys"), json({"s"}));
  ExpectRecordsCoverConnection(trace.records, packets, client_port, server.port());
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 1, cmds.size() + 1, cmds.size() + 1, 0, 0));
}

// A client that resets its connection while its command is blocked: the command is reported
// without a reply, the connection reset.
TEST(LiveRedis, ConnectionResetWhileBlockedIsReported) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/reset.pcap";
  const std::string blpop = EncodeCommand({"BLPOP", "never", "0"});
  std::string client;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection conn(server.port());
    RawConnection watcher(server.port());
    client = conn.endpoint();
    const uint16_t client_port = conn.local_port();
    conn.Send(blpop);
    // Resets only once the server holds the BLPOP blocked.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (bool blocked = false; !blocked;) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "BLPOP never blocked";
      watcher.Send(EncodeCommand({"INFO", "clients"}));
      const std::string header = ReadLine(watcher);
      blocked = watcher.ReadExactly(std::stoul(header.substr(1)) + 2).find("blocked_clients:1\r\n") !=
                std::string::npos;
    }
    conn.Abort();
    capture.WaitFor(
        [&](const std::vector<TcpPacket>& packets) {
          return std::any_of(packets.begin(), packets.end(), [&](const TcpPacket& t) {
            return t.src_port == client_port && (t.flags & kRst) != 0;
          });
        },
        "the client's reset");
    capture.Stop();
  }
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  const std::vector<json> records = RecordsOf(trace.records, client);
  ASSERT_EQ(records.size(), 1u) << trace.summary;
  json want = CommandRecord(client, server.endpoint(), "BLPOP", {"never", "0"}, "none", nullptr, blpop.size(), 0);
  want["no_reply"] = "reset";
  EXPECT_EQ(Timeless(records[0]), want);
}

// ---------------------------------------------------------------------------------------------
// Client-side caching: CLIENT TRACKING's invalidations.

// Sends one command, checks the exact reply, and returns the command's record.
json ExactCommand(RawConnection& conn, const std::string& server, const std::vector<std::string>& argv,
                  const std::string& reply, const std::string& reply_type, json value) {
  const std::string request = EncodeCommand(argv);
  conn.Send(request);
  const std::string got = conn.ReadExactly(reply.size());
  if (got != reply) {
    throw std::runtime_error(absl::StrCat("Redis answered \"", absl::CEscape(got), "\" to ", argv[0], ", not \"",
                                          absl::CEscape(reply), "\""));
  }
  json args = json::array();
  for (size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i]);
  return CommandRecord(conn.endpoint(), server, absl::AsciiStrToUpper(argv[0]), args, reply_type, std::move(value),
                       request.size(), reply.size());
}

// CLIENT ID: returns its record and sets `id`.
json ClientId(RawConnection& conn, const std::string& server, int64_t* id) {
  const std::string request = EncodeCommand({"CLIENT", "ID"});
  conn.Send(request);
  const std::string line = ReadLine(conn);
  if (line[0] != ':') throw std::runtime_error("CLIENT ID answered " + absl::CEscape(line));
  *id = std::stoll(line.substr(1));
  return CommandRecord(conn.endpoint(), server, "CLIENT", {"ID"}, "integer", *id, request.size(), line.size());
}

// Waits for what the server sends the connection unasked, checks that it is `bytes`, and
// returns its push record.
json ExpectPush(RawConnection& conn, const std::string& server, const std::string& bytes,
                const std::string& reply_type, json value) {
  const std::string got = conn.ReadExactly(bytes.size());
  if (got != bytes) {
    throw std::runtime_error(absl::StrCat("Redis sent \"", absl::CEscape(got), "\", not \"", absl::CEscape(bytes), "\""));
  }
  return {{"type", "push"},          {"client", conn.endpoint()}, {"server", server},
          {"reply_type", reply_type}, {"reply", std::move(value)},  {"reply_bytes", bytes.size()}};
}

void ExpectRecordsOf(const Trace& trace, const std::string& client, const std::vector<json>& want) {
  const std::vector<json> got = RecordsOf(trace.records, client);
  ASSERT_EQ(got.size(), want.size()) << client << "\n" << trace.summary;
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(Timeless(got[i]), want[i]) << client << " record " << i;
}

// RESP3: the tracking connection itself gets `>2 invalidate [keys]` (null keys for FLUSHALL),
// a push between its replies; a pipelined GET and PING after it each take their own reply.
TEST(LiveRedis, TrackingInvalidationsArePushesInResp3) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/tracking-resp3.pcap";
  const std::string srv = server.endpoint();
  std::vector<json> want_tracking;
  std::vector<json> want_other;
  std::string tracking_client;
  std::string other_client;
  uint16_t tracking_port = 0;
  uint16_t other_port = 0;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection tracking(server.port());
    RawConnection other(server.port());
    tracking_client = tracking.endpoint();
    other_client = other.endpoint();
    tracking_port = tracking.local_port();
    other_port = other.local_port();
    int64_t id = 0;
    want_tracking.push_back(ClientId(tracking, srv, &id));
    const std::string version = RedisServerVersion();
    want_tracking.push_back(ExactCommand(tracking, srv, {"HELLO", "3"}, HelloReply(version, id), "map",
                                         HelloValue(version, id)));
    want_tracking.push_back(ExactCommand(tracking, srv, {"CLIENT", "TRACKING", "ON"}, "+OK\r\n", "simple", "OK"));
    want_other.push_back(ExactCommand(other, srv, {"SET", "k", "v1"}, "+OK\r\n", "simple", "OK"));
    want_tracking.push_back(ExactCommand(tracking, srv, {"GET", "k"}, "$2\r\nv1\r\n", "bulk", "v1"));
    want_other.push_back(ExactCommand(other, srv, {"SET", "k", "v2"}, "+OK\r\n", "simple", "OK"));
    want_tracking.push_back(ExpectPush(tracking, srv, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", "push",
                                       json::array({"invalidate", json::array({"k"})})));
    {
      const std::string get = EncodeCommand({"GET", "k"});
      const std::string ping = EncodeCommand({"PING"});
      tracking.Send(get + ping);
      ASSERT_EQ(tracking.ReadExactly(15), "$2\r\nv2\r\n+PONG\r\n");
      want_tracking.push_back(CommandRecord(tracking_client, srv, "GET", {"k"}, "bulk", "v2", get.size(), 8));
      want_tracking.push_back(
          CommandRecord(tracking_client, srv, "PING", json::array(), "simple", "PONG", ping.size(), 7));
    }
    want_other.push_back(ExactCommand(other, srv, {"FLUSHALL"}, "+OK\r\n", "simple", "OK"));
    want_tracking.push_back(ExpectPush(tracking, srv, ">2\r\n$10\r\ninvalidate\r\n_\r\n", "push",
                                       json::array({"invalidate", nullptr})));
    for (auto [conn, want] : {std::pair{&tracking, &want_tracking}, std::pair{&other, &want_other}}) {
      want->push_back(ExactCommand(*conn, srv, {"QUIT"}, "+OK\r\n", "simple", "OK"));
      conn->ExpectEof();
      conn->Close();
    }
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 2).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  ExpectRecordsOf(trace, tracking_client, want_tracking);
  ExpectRecordsOf(trace, other_client, want_other);
  ExpectRecordsCoverConnection(RecordsOf(trace.records, tracking_client), packets, tracking_port, server.port());
  ExpectRecordsCoverConnection(RecordsOf(trace.records, other_client), packets, other_port, server.port());
  const size_t commands = want_tracking.size() + want_other.size() - 2;
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 2, commands, commands, 0, 2));
}

// RESP2 with REDIRECT: the connection redirected to, subscribed to __redis__:invalidate, gets
// `*3 message __redis__:invalidate [keys]`, whose third element is an array (null for
// FLUSHALL): a push, and its PING while subscribed still takes its own reply.
TEST(LiveRedis, TrackingInvalidationsRedirectedInResp2AreMessages) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/tracking-resp2.pcap";
  const std::string srv = server.endpoint();
  const std::string channel = "__redis__:invalidate";
  const std::string pong = "*2\r\n$4\r\npong\r\n$0\r\n\r\n";
  std::vector<json> want_sub;
  std::vector<json> want_tracker;
  std::vector<json> want_writer;
  std::vector<std::string> clients;
  std::vector<uint16_t> ports;
  {
    PacketCapture capture(server.port(), pcap);
    RawConnection sub(server.port());
    RawConnection tracker(server.port());
    RawConnection writer(server.port());
    for (RawConnection* conn : {&sub, &tracker, &writer}) {
      clients.push_back(conn->endpoint());
      ports.push_back(conn->local_port());
    }
    int64_t id = 0;
    want_sub.push_back(ClientId(sub, srv, &id));
    {
      json r = ExactCommand(sub, srv, {"SUBSCRIBE", channel},
                            absl::StrCat("*3\r\n$9\r\nsubscribe\r\n$20\r\n", channel, "\r\n:1\r\n"), "array",
                            json::array({"subscribe", channel, 1}));
      r["replies"] = json::array({r["reply"]});
      want_sub.push_back(r);
    }
    want_tracker.push_back(ExactCommand(tracker, srv, {"CLIENT", "TRACKING", "on", "REDIRECT", std::to_string(id)},
                                        "+OK\r\n", "simple", "OK"));
    want_tracker.push_back(ExactCommand(tracker, srv, {"GET", "k"}, "$-1\r\n", "null", nullptr));
    want_writer.push_back(ExactCommand(writer, srv, {"SET", "k", "v"}, "+OK\r\n", "simple", "OK"));
    want_sub.push_back(ExpectPush(sub, srv, absl::StrCat("*3\r\n$7\r\nmessage\r\n$20\r\n", channel, "\r\n*1\r\n$1\r\nk\r\n"),
                                  "array", json::array({"message", channel, json::array({"k"})})));
    want_sub.push_back(ExactCommand(sub, srv, {"PING"}, pong, "array", json::array({"pong", ""})));
    want_writer.push_back(ExactCommand(writer, srv, {"FLUSHALL"}, "+OK\r\n", "simple", "OK"));
    want_sub.push_back(ExpectPush(sub, srv, absl::StrCat("*3\r\n$7\r\nmessage\r\n$20\r\n", channel, "\r\n$-1\r\n"),
                                  "array", json::array({"message", channel, nullptr})));
    want_sub.push_back(ExactCommand(sub, srv, {"PING"}, pong, "array", json::array({"pong", ""})));
    for (auto [conn, want] :
         {std::pair{&sub, &want_sub}, std::pair{&tracker, &want_tracker}, std::pair{&writer, &want_writer}}) {
      want->push_back(ExactCommand(*conn, srv, {"QUIT"}, "+OK\r\n", "simple", "OK"));
      conn->ExpectEof();
      conn->Close();
    }
    ASSERT_EQ(capture.StopOnceClosed(server.port(), 3).dropped_by_kernel, 0u);
  }
  const std::vector<TcpPacket> packets = ReadPcapFile(pcap);
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  const std::vector<json>* wants[] = {&want_sub, &want_tracker, &want_writer};
  for (size_t i = 0; i < 3; ++i) {
    ExpectRecordsOf(trace, clients[i], *wants[i]);
    ExpectRecordsCoverConnection(RecordsOf(trace.records, clients[i]), packets, ports[i], server.port());
  }
  const size_t commands = want_sub.size() + want_tracker.size() + want_writer.size() - 2;
  EXPECT_EQ(trace.summary, CleanSummary(packets.size(), 3, commands, commands, 0, 2));
}

// ---------------------------------------------------------------------------------------------

// --redact-values on a real server's traffic: no value reaches any output, keys and command
// names do.
TEST(LiveRedis, RedactValuesHidesEveryValueButKeepsKeys) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/redact.pcap";
  const std::string value = "zx81-private-value@example.invalid";
  PacketCapture capture(server.port(), pcap);
  RawConnection conn(server.port());
  auto exchange = [&](const std::vector<std::string>& argv, const std::string& reply) {
    conn.Send(EncodeCommand(argv));
    EXPECT_EQ(conn.ReadExactly(reply.size()), reply) << argv[0];
  };
  exchange({"SET", "user:42:email", value}, "+OK\r\n");
  exchange({"GET", "user:42:email"}, absl::StrCat("$", value.size(), "\r\n", value, "\r\n"));
  exchange({"HSET", "profile:42", "zx81-field", "zx81-field-value"}, ":1\r\n");
  exchange({"HGETALL", "profile:42"}, "*2\r\n$10\r\nzx81-field\r\n$16\r\nzx81-field-value\r\n");
  // The server's error quotes the arguments of a command it does not know.
  conn.Send(EncodeCommand({"NOSUCHCMD", "zx81-argument"}));
  std::string error;
  while (error.size() < 2 || error.substr(error.size() - 2) != "\r\n") error += conn.ReadExactly(1);
  EXPECT_THAT(error, HasSubstr("zx81-argument"));
  exchange({"QUIT"}, "+OK\r\n");
  conn.ExpectEof();
  conn.Close();
  ASSERT_EQ(capture.StopOnceClosed(server.port(), 1).dropped_by_kernel, 0u);

  // Without the flag every value shows: what the test looks for is there to find.
  const Trace plain = RunResptrace(pcap, server.port(), "text");
  ASSERT_EQ(plain.exit_status, 0) << plain.summary;
  EXPECT_THAT(absl::StrJoin(plain.lines, "\n"), HasSubstr(value));

  const Trace json_trace = RunResptrace(pcap, server.port(), "json", {}, {"--redact-values"});
  const Trace text = RunResptrace(pcap, server.port(), "text", {}, {"--redact-values"});
  for (const Trace* t : {&json_trace, &text}) {
    ASSERT_EQ(t->exit_status, 0) << t->summary;
    const std::string out = absl::StrJoin(t->lines, "\n");
    EXPECT_EQ(out.find("zx81"), std::string::npos) << out;
    EXPECT_EQ(t->summary.find("zx81"), std::string::npos) << t->summary;
    for (const char* shown : {"user:42:email", "profile:42", "SET", "GET", "HSET", "HGETALL",
                              "NOSUCHCMD", "QUIT"}) {
      EXPECT_THAT(out, HasSubstr(shown));
    }
  }
  EXPECT_EQ(text.summary, plain.summary);
  const json hidden_value = {{"redacted", true}, {"len", value.size()}};
  ASSERT_EQ(json_trace.records.size(), 6u) << json_trace.summary;
  EXPECT_EQ(json_trace.records[0]["args"], json::array({"user:42:email", hidden_value}));
  EXPECT_EQ(json_trace.records[1]["reply"], hidden_value);
  EXPECT_EQ(json_trace.records[3]["reply"],
            json::array({{{"redacted", true}, {"len", 10}}, {{"redacted", true}, {"len", 16}}}));
  EXPECT_EQ(json_trace.records[4]["unknown"], true);
  EXPECT_EQ(json_trace.records[4]["args"], json::array({{{"redacted", true}, {"len", 13}}}));
  EXPECT_EQ(json_trace.records[4]["reply"]["error"]["prefix"], "ERR");
  EXPECT_EQ(json_trace.records[5]["reply"], "OK");
}

}  // namespace
}  // namespace resptrace::live

namespace resptrace::live {
namespace {

// A capture started inside a connection, in the middle of a value the client is sending:
// the value's bytes (text lines, RESP of no command the server has) are no command; the
// server's reply to the command the capture joined inside of answers nothing; every command
// sent after it is paired, the pipelined ones too, as soon as the connection is proven in step.
TEST(LiveRedis, CaptureJoiningMidValueFindsTheFirstCommandAndPairsOnceInStep) {
  RedisServer server;
  TempDir dir;
  const std::string pcap = dir.path() + "/join.pcap";
  std::string tail = "\r\nGET looks-inline\r\n*2\r\n$3\r\nfoo\r\n$1\r\nx\r\n";
  tail += std::string(20000 - 1 - tail.size() - 6, 'v') + "\r\nend.";
  ASSERT_EQ(tail.size(), 19999u);
  const std::string head = "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$20000\r\nv";
  const std::string get = EncodeCommand({"GET", "big"});
  const std::string incr = EncodeCommand({"INCR", "n"});
  const std::string ping = EncodeCommand({"PING"});
  RawConnection conn(server.port());
  const std::string client = conn.endpoint();
  conn.Send(ping);
  ASSERT_EQ(conn.ReadExactly(7), "+PONG\r\n");
  conn.Send(head);  // the value's first byte: the server waits for the rest
  {
    PacketCapture capture(server.port(), pcap);
    conn.Send(tail + "\r\n");
    ASSERT_EQ(conn.ReadExactly(5), "+OK\r\n");
    conn.Send(EncodeCommand({"DEL", "n"}));
    ASSERT_EQ(conn.ReadExactly(4), ":0\r\n");
    conn.Send(incr + incr + incr);
    ASSERT_EQ(conn.ReadExactly(12), ":1\r\n:2\r\n:3\r\n");
    conn.Send(ping);
    ASSERT_EQ(conn.ReadExactly(7), "+PONG\r\n");
    const uint16_t client_port = conn.local_port();
    conn.Close();
    // No handshake in this capture: wait for the FINs of this client's connection.
    capture.WaitFor(
        [&](const std::vector<TcpPacket>& packets) {
          int fins = 0;
          for (const TcpPacket& t : packets) {
            if ((t.flags & kFin) != 0 && (t.src_port == client_port || t.dst_port == client_port)) ++fins;
          }
          return fins >= 2;
        },
        "the joined connection closed both ways");
    ASSERT_EQ(capture.Stop().dropped_by_kernel, 0u);
  }
  const Trace trace = RunResptrace(pcap, server.port(), "json");
  ASSERT_EQ(trace.exit_status, 0) << trace.summary;
  ASSERT_EQ(trace.records.size(), 5u) << trace.summary;
  const std::string s = server.endpoint();
  EXPECT_EQ(Timeless(trace.records[0]),
            CommandRecord(client, s, "DEL", {"n"}, "integer", 0, EncodeCommand({"DEL", "n"}).size(), 4));
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(Timeless(trace.records[i]), CommandRecord(client, s, "INCR", {"n"}, "integer", i, incr.size(), 4))
        << "record " << i;
  }
  EXPECT_EQ(Timeless(trace.records[4]),
            CommandRecord(client, s, "PING", json::array(), "simple", "PONG", ping.size(), 7));
  // The SET's +OK answers a command the capture never had; the summary says the connection
  // was joined and how it was found in step. Skipped: the value's "foo x" request and the two
  // text lines after it (lines of text are no safe start, whatever they say).
  EXPECT_NE(trace.summary.find("replies without a command: 1\n"), std::string::npos) << trace.summary;
  EXPECT_NE(trace.summary.find("mid-stream: 1 connections joined, 1 times proven in step, 3 requests "
                               "skipped before a known command\n"),
            std::string::npos)
      << trace.summary;
  EXPECT_EQ(trace.summary.find("invalid requests"), std::string::npos) << trace.summary;
}

}  // namespace
}  // namespace resptrace::live
