// Golden tests of the whole resptrace binary on the public captures in tests/data (see
// tests/data/README.md for each capture and its publisher's expected output). The binary is
// run as a child process; its JSON records (schema: docs/records.md) are compared with the
// publishers' baselines, or with what the bytes on the wire say where a baseline is wrong.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "resptrace/flow_key.h"
#include "resptrace/pcap_writer.h"
#include "resptrace/segment.h"
#include "run_resptrace.h"
#include "tcp_conversation.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using resptrace_test::RunResptrace;
using resptrace_test::RunResult;

std::string DataPath(const std::string& rel) { return std::string(RESPTRACE_TEST_DATA) + "/" + rel; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The server port(s) of each capture (tests/data/README.md).
std::string PortsFor(const std::string& rel) {
  if (rel.find("packetbeat/") != std::string::npos) return "6380";
  if (rel.find("django-cloud") != std::string::npos) return "10625";
  if (rel.find("oss-fuzz") != std::string::npos) return "80";
  if (rel.find("malcolm/") != std::string::npos) return "6379,10625";
  return "6379";
}

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + ", signal " + std::to_string(r.term_signal) +
         (r.spawn_error.empty() ? "" : ", " + r.spawn_error) + "\nstderr: " + r.err.substr(0, 2000);
}

// Runs resptrace on a capture in JSON mode and returns every record. Fails the test when the
// run does not exit 0 or a line is not a JSON object.
std::vector<json> Decode(const std::string& rel, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-r", DataPath(rel), "-p", PortsFor(rel), "-o", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult run = RunResptrace(args);
  EXPECT_EQ(run.exit_code, 0) << rel << ": " << Describe(run);
  std::vector<json> records;
  std::string error;
  EXPECT_TRUE(resptrace_test::ParseJsonLines(run.out, &records, &error)) << rel << ": " << error;
  return records;
}

std::vector<json> Commands(const std::vector<json>& records) {
  std::vector<json> out;
  for (const json& r : records) {
    if (r.value("type", "") == "command") out.push_back(r);
  }
  return out;
}

// Command records grouped by client endpoint, each group in request order (records are
// written when the reply arrives; the sort is stable, so pipelined requests that share a
// timestamp keep their order).
std::map<std::string, std::vector<json>> ByClient(const std::vector<json>& records) {
  std::map<std::string, std::vector<json>> by;
  for (const json& r : Commands(records)) by[r["client"].get<std::string>()].push_back(r);
  for (auto& [client, rs] : by) {
    std::stable_sort(rs.begin(), rs.end(), [](const json& a, const json& b) {
      return a["ts"].get<double>() < b["ts"].get<double>();
    });
  }
  return by;
}

std::vector<std::string> Args(const json& r) {
  std::vector<std::string> out;
  for (const json& a : r["args"]) out.push_back(a.is_string() ? a.get<std::string>() : a.dump());
  return out;
}

// ---------------------------------------------------------------------------------------
// docs/records.md, checked field by field. Returns what is wrong; empty when nothing is.

// --redact-values' form of a value: its length, and the bytes a capture gap lost.
bool IsHiddenValue(const json& v) {
  if (!v.is_object() || v.value("redacted", json()) != true || !v.contains("len") ||
      !v["len"].is_number_unsigned()) {
    return false;
  }
  const size_t fields = 2 + v.contains("missing") + v.contains("prefix");
  return v.size() == fields && (!v.contains("missing") || v["missing"].is_number_unsigned()) &&
         (!v.contains("prefix") || v["prefix"].is_string());
}

// `hidden`: the value may be in --redact-values' form.
bool IsStringValue(const json& v, bool hidden = false) {
  if (v.is_string()) return true;
  if (!v.is_object()) return false;
  if (v.size() == 1 && v.contains("b64")) return v["b64"].is_string();
  if (v.size() == 1 && v.contains("redacted")) return v["redacted"] == true;  // a secret
  if (hidden && IsHiddenValue(v)) return true;
  const bool cut = v.contains("truncated") ? v["truncated"].is_string()
                                           : v.contains("truncated_b64") && v["truncated_b64"].is_string();
  return cut && v.contains("len") && v["len"].is_number_unsigned();
}

bool AllOf(std::string_view s, std::string_view chars) {
  return !s.empty() && s.find_first_not_of(chars) == std::string_view::npos;
}

// "a.b.c.d:port" or "[v6]:port".
bool IsEndpoint(std::string_view e) {
  const size_t colon = e.rfind(':');
  if (colon == std::string_view::npos || !AllOf(e.substr(colon + 1), "0123456789")) return false;
  std::string_view host = e.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    return AllOf(host.substr(1, host.size() - 2), "0123456789abcdefABCDEF:.");
  }
  return AllOf(host, "0123456789.") && std::count(host.begin(), host.end(), '.') == 3;
}

// `hidden`: a record written with --redact-values, whose values may be hidden.
std::string SchemaProblem(const json& r, bool hidden = false) {
  static const std::set<std::string> kReplyTypes = {
      "simple", "error",   "integer", "bulk",     "null", "array", "map", "set",
      "double", "boolean", "bignum",  "verbatim", "push", "none"};
  static const std::set<std::string> kNoReply = {"eof", "closed", "reset",     "timeout",
                                                 "evicted", "gap", "desync", "reply_off"};
  if (!r.contains("type") || !r["type"].is_string()) return "no type";
  const std::string type = r["type"];
  if (!r.contains("ts") || !r["ts"].is_number() || r["ts"].get<double>() < 0) return "bad ts";
  for (const char* f : {"client", "server"}) {
    if (!r.contains(f) || !r[f].is_string() || !IsEndpoint(r[f].get<std::string>())) {
      return std::string("bad ") + f;
    }
  }
  if (type == "gap") {
    if (!r.contains("stream") || (r["stream"] != "requests" && r["stream"] != "replies")) {
      return "bad gap stream";
    }
    if (!r.contains("bytes") || !r["bytes"].is_number_unsigned() || r["bytes"].get<uint64_t>() == 0) {
      return "bad gap bytes";
    }
    return r.size() == 6 ? "" : "a gap with other fields";
  }
  if (!r.contains("reply_type") || !r["reply_type"].is_string() ||
      !kReplyTypes.count(r["reply_type"].get<std::string>())) {
    return "bad reply_type";
  }
  if (!r.contains("reply")) return "no reply field";
  if (!r.contains("reply_bytes") || !r["reply_bytes"].is_number_unsigned()) return "bad reply_bytes";
  const std::string rt = r["reply_type"];
  if (type == "push") {
    if (!r["reply"].is_array() || r["reply_bytes"].get<uint64_t>() == 0) return "bad push";
    // RESP3's `>`, or in RESP2 subscribed mode an array naming what it carries.
    static const std::set<json> kResp2Pushes = {"message", "pmessage", "smessage", "subscribe",
                                                "psubscribe", "ssubscribe", "unsubscribe",
                                                "punsubscribe", "sunsubscribe"};
    // With values hidden, what the array carries is hidden too.
    if (rt != "push" && !(rt == "array" && !r["reply"].empty() &&
                          (kResp2Pushes.count(r["reply"][0]) || (hidden && IsHiddenValue(r["reply"][0]))))) {
      return "bad push";
    }
    return "";
  }
  if (type != "command") return "unknown type " + type;
  if (!r.contains("cmd") || !IsStringValue(r["cmd"])) return "bad cmd";
  if (!r.contains("args") || !r["args"].is_array()) return "bad args";
  for (const json& a : r["args"]) {
    if (!IsStringValue(a, hidden)) return "bad arg " + a.dump();
  }
  if (r.contains("inline") && r["inline"] != true) return "inline present but not true";
  if (r.contains("malformed") && (!r["malformed"].is_string() || r["malformed"].get<std::string>().empty())) {
    return "bad malformed";
  }
  if (!r.contains("req_bytes") || !r["req_bytes"].is_number_unsigned() || r["req_bytes"].get<uint64_t>() == 0) {
    return "bad req_bytes";
  }
  if (!r.contains("latency_us")) return "no latency_us";
  if (rt == "none") {
    if (!r["reply"].is_null()) return "reply without reply_type";
    if (!r["latency_us"].is_null()) return "latency without reply";
    if (r["reply_bytes"] != 0) return "reply_bytes without reply";
    if (!r.contains("no_reply") || !r["no_reply"].is_string() ||
        !kNoReply.count(r["no_reply"].get<std::string>())) {
      return "bad no_reply";
    }
    return "";
  }
  if (r.contains("no_reply")) return "no_reply on an answered command";
  if (r.contains("replies") && (!r["replies"].is_array() || r["replies"].empty() || r["replies"][0] != r["reply"])) {
    return "replies do not start with the reply";
  }
  if (!r["latency_us"].is_number() || r["latency_us"].get<double>() < 0) return "bad latency_us";
  if (r["reply_bytes"].get<uint64_t>() == 0) return "reply_bytes 0 with a reply";
  const json& v = r["reply"];
  if (rt == "error" && !(v.is_object() && v.contains("error") && IsStringValue(v["error"], hidden))) {
    return "bad error";
  }
  if (r.contains("error_prefix")) {
    // The error's first word, all upper-case letters.
    if (rt != "error") return "error_prefix on a reply that is no error";
    const json& prefix = r["error_prefix"];
    if (!prefix.is_string() || !AllOf(prefix.get<std::string>(), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ||
        prefix.get<std::string>().size() > 32) {
      return "bad error_prefix";
    }
    const std::string word = prefix.get<std::string>();
    if (v["error"].is_string() && v["error"] != word && v["error"].get<std::string>().rfind(word + " ", 0) != 0) {
      return "error_prefix is not the error's first word";
    }
  }
  if (rt == "null" && !v.is_null()) return "null reply not null";
  if ((rt == "simple" || rt == "bulk" || rt == "verbatim" || rt == "bignum") && !IsStringValue(v, hidden)) {
    return "string reply not a string";
  }
  if (hidden && (rt == "integer" || rt == "double" || rt == "boolean") && IsHiddenValue(v)) return "";
  if (rt == "integer" && !v.is_number_integer()) return "integer reply not an integer";
  if ((rt == "array" || rt == "set" || rt == "map") && !v.is_array()) return "aggregate reply not an array";
  if (rt == "boolean" && !v.is_boolean()) return "boolean reply not a boolean";
  return "";
}

// The length of a plain record's string value, as --redact-values gives it.
uint64_t PlainLength(const json& v) {
  if (v.is_string()) return v.get<std::string>().size();
  if (v.contains("len")) return v["len"];  // cut
  const std::string b64 = v["b64"];
  return b64.size() / 4 * 3 - std::count(b64.begin(), b64.end(), '=');
}

// The bytes of a value lost in a capture gap.
json MissingOf(const json& v) { return v.is_object() && v.contains("missing") ? v["missing"] : json(0); }

// An error's code, as docs/records.md defines it.
std::string ErrorCodeOf(const std::string& text) {
  size_t n = 0;
  while (n < text.size() && n <= 32 && std::isupper(static_cast<unsigned char>(text[n]))) ++n;
  if (n == 0 || n > 32 || (n < text.size() && text[n] != ' ')) return "";
  return text.substr(0, n);
}

// What is wrong with `hidden`, --redact-values' form of the plain reply value `plain`.
std::string HiddenReplyProblem(const json& plain, const json& hidden, bool verbatim) {
  static const std::set<std::string> kStatus = {"OK", "QUEUED", "PONG"};
  const std::string where = plain.dump().substr(0, 200) + " as " + hidden.dump().substr(0, 200);
  if (plain.is_null() || plain == json({{"redacted", true}}) || plain.contains("more")) {
    return plain == hidden ? "" : "changed: " + where;
  }
  if (plain.is_array()) {
    if (!hidden.is_array() || hidden.size() != plain.size()) return "shape changed: " + where;
    for (size_t i = 0; i < plain.size(); ++i) {
      const std::string problem = HiddenReplyProblem(plain[i], hidden[i], false);
      if (!problem.empty()) return problem;
    }
    return "";
  }
  if (plain.is_string() && kStatus.count(plain) && plain == hidden) return "";  // a status reply
  if (plain.is_object() && plain.contains("error")) {
    if (!hidden.is_object() || hidden.size() != 1 || !hidden.contains("error")) return "not an error: " + where;
    const json& text = plain["error"];
    const json& h = hidden["error"];
    if (!IsHiddenValue(h) || h["len"] != PlainLength(text)) return "error not hidden: " + where;
    const std::string code = text.is_string() ? ErrorCodeOf(text) : "";
    if (h.value("prefix", "") != code) return "wrong error code: " + where;
    return "";
  }
  if (!IsHiddenValue(hidden)) return "shown: " + where;
  if (plain.is_number_integer() && hidden["len"] != plain.dump().size()) return "wrong length: " + where;
  if (plain.is_string() || plain.is_object()) {
    if (hidden["len"] != PlainLength(plain) + (verbatim ? 4 : 0)) return "wrong length: " + where;
    if (MissingOf(hidden) != MissingOf(plain)) return "wrong missing: " + where;
  }
  return "";
}

// What is wrong with `hidden`, the record --redact-values writes for the plain record `plain`:
// it must differ only in the values it hides (docs/records.md), each with its length.
std::string RedactionProblem(const json& plain, const json& hidden) {
  json rest_plain = plain, rest_hidden = hidden;
  for (const char* f : {"args", "reply", "replies", "exec_result"}) {
    rest_plain.erase(f);
    rest_hidden.erase(f);
  }
  if (rest_plain != rest_hidden) return "fields other than the values differ";
  if (plain.contains("replies") != hidden.contains("replies") ||
      plain.contains("exec_result") != hidden.contains("exec_result")) {
    return "replies or exec_result present in one record only";
  }
  if (plain.contains("replies")) {
    if (hidden["replies"].size() != plain["replies"].size()) return "replies differ in number";
    for (size_t i = 0; i < plain["replies"].size(); ++i) {
      if (std::string p = HiddenReplyProblem(plain["replies"][i], hidden["replies"][i], false);
          !p.empty()) {
        return "replies[" + std::to_string(i) + "]: " + p;
      }
    }
  }
  if (plain.contains("exec_result")) {
    if (std::string p = HiddenReplyProblem(plain["exec_result"], hidden["exec_result"], false);
        !p.empty()) {
      return "exec_result: " + p;
    }
  }
  if (plain.contains("args")) {
    const json& pa = plain["args"];
    const json& ha = hidden["args"];
    if (ha.size() != pa.size()) return "args differ in number";
    const json keys = plain.value("keys", json::array());
    for (size_t i = 0; i < pa.size(); ++i) {
      if (ha[i] == pa[i]) {
        const bool shown = pa[i] == json({{"redacted", true}}) || pa[i].contains("more") ||
                           (i == 0 && plain.contains("subcmd")) ||
                           std::find(keys.begin(), keys.end(), pa[i]) != keys.end();
        if (!shown) return "arg " + std::to_string(i) + " shown: " + pa[i].dump();
      } else if (!IsHiddenValue(ha[i]) || ha[i]["len"] != PlainLength(pa[i]) ||
                 MissingOf(ha[i]) != MissingOf(pa[i])) {
        return "arg " + std::to_string(i) + " badly hidden: " + ha[i].dump();
      }
    }
  }
  return HiddenReplyProblem(plain["reply"], hidden["reply"], plain["reply_type"] == "verbatim");
}

// ---------------------------------------------------------------------------------------
// 1. Every capture decodes, in every output mode, and every JSON line follows the schema.

std::vector<std::string> AllCaptures() {
  std::vector<std::string> out;
  const fs::path root(RESPTRACE_TEST_DATA);
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".pcap" || ext == ".pcapng")) {
      out.push_back(fs::relative(e.path(), root).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class EveryCaptureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryCaptureTest, DecodesInEveryModeAndFollowsTheSchema) {
  const std::string rel = GetParam();
  const std::vector<std::string> base = {"-r", DataPath(rel), "-p", PortsFor(rel)};
  // No capture in tests/data is corrupt: every one must be read to its end (exit 0).
  auto run = [&](const std::string& mode) {
    std::vector<std::string> args = base;
    args.insert(args.end(), {"-o", mode});
    RunResult r = RunResptrace(args);
    EXPECT_EQ(r.term_signal, 0) << rel << " -o " << mode << ": " << Describe(r);
    EXPECT_EQ(r.exit_code, 0) << rel << " -o " << mode << ": " << Describe(r);
    EXPECT_FALSE(r.err.empty()) << rel << " -o " << mode << ": no summary on stderr";
    return r;
  };
  const RunResult as_json = run("json");
  const RunResult as_text = run("text");
  const RunResult as_none = run("none");
  std::vector<std::string> redacted_args = base;
  redacted_args.insert(redacted_args.end(), {"-o", "json", "--redact-values"});
  const RunResult as_redacted = RunResptrace(redacted_args);
  EXPECT_EQ(as_redacted.exit_code, 0) << rel << " --redact-values: " << Describe(as_redacted);

  std::vector<json> records;
  std::string error;
  ASSERT_TRUE(resptrace_test::ParseJsonLines(as_json.out, &records, &error)) << rel << ": " << error;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(SchemaProblem(records[i]), "") << rel << " record " << i << ": " << records[i].dump();
  }
  // --redact-values hides what the plain records show, and nothing else.
  std::vector<json> redacted;
  ASSERT_TRUE(resptrace_test::ParseJsonLines(as_redacted.out, &redacted, &error)) << rel << ": " << error;
  ASSERT_EQ(redacted.size(), records.size()) << rel;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(SchemaProblem(redacted[i], /*hidden=*/true), "") << rel << " record " << i << ": "
                                                               << redacted[i].dump();
    EXPECT_EQ(RedactionProblem(records[i], redacted[i]), "")
        << rel << " record " << i << ":\n" << records[i].dump() << "\n" << redacted[i].dump();
  }
  EXPECT_EQ(as_redacted.err, as_json.err) << rel;
  // One text line per record; "none" writes no records at all.
  EXPECT_EQ(resptrace_test::SplitLines(as_text.out).size(), records.size()) << rel;
  EXPECT_EQ(as_none.out, "") << rel;
  // Counting mode keeps no values, yet pairs exactly as the printing modes do: the same
  // summary, counter for counter.
  EXPECT_EQ(as_none.err, as_json.err) << rel;
  EXPECT_EQ(as_text.err, as_json.err) << rel;
}

std::string TestNameOf(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(PublicCaptures, EveryCaptureTest, ::testing::ValuesIn(AllCaptures()), TestNameOf);

TEST(CommandLineTest, MissingFileExitsOneAndBadArgumentsExitTwo) {
  RunResult missing = RunResptrace({"-r", DataPath("no-such-capture.pcap")});
  EXPECT_EQ(missing.exit_code, 1) << Describe(missing);
  EXPECT_EQ(missing.out, "");
  // A file that is not a capture at all.
  RunResult not_pcap = RunResptrace({"-r", DataPath("README.md")});
  EXPECT_EQ(not_pcap.exit_code, 1) << Describe(not_pcap);
  EXPECT_EQ(RunResptrace({"--backend", "bogus"}).exit_code, 2);
  EXPECT_EQ(RunResptrace({"-r", DataPath("zeek/set.pcap"), "-o", "xml"}).exit_code, 2);
  EXPECT_EQ(RunResptrace({"-r", DataPath("zeek/set.pcap"), "-p", "70000"}).exit_code, 2);
  EXPECT_EQ(RunResptrace({"-r", DataPath("zeek/set.pcap"), "--bogus"}).exit_code, 2);
}

TEST(CommandLineTest, DamagedCaptureWritesWhatCameBeforeAndExitsOne) {
  // packetbeat's 11 transactions, cut in the middle of its last frame.
  std::ifstream in(DataPath("packetbeat/redis_session.pcap"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 60u);
  const std::string cut =
      (std::filesystem::temp_directory_path() / ("resptrace-cut-" + std::to_string(getpid()) + ".pcap")).string();
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 40);
  RunResult r = RunResptrace({"-r", cut, "-p", "6380", "-o", "json"});
  std::filesystem::remove(cut);
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find(cut), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("damaged at frame 22"), std::string::npos) << r.err;
  std::vector<json> records;
  std::string error;
  ASSERT_TRUE(resptrace_test::ParseJsonLines(r.out, &records, &error)) << error;
  // Ten transactions are whole before the damage; the last request lost its reply with it.
  ASSERT_EQ(records.size(), 11u);
  for (size_t i = 0; i < 10; ++i) EXPECT_NE(records[i]["reply_type"], "none") << i;
  EXPECT_EQ(records[10]["reply_type"], "none");
  EXPECT_EQ(records[10]["no_reply"], "eof");
}

// A capture that lost a segment of requests: the loss is a record of its own, in place, in
// JSON and in text, and the commands on either side of it keep what is proven.
TEST(CommandLineTest, RequestsLostInTheCaptureAreAGapRecord) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("resptrace-gap-" + std::to_string(getpid()) + ".pcap")).string();
  const uint8_t client_ip[4] = {10, 0, 0, 1};
  const uint8_t server_ip[4] = {10, 0, 0, 2};
  resptrace::test::TcpConversation k({resptrace::IpAddress::V4(client_ip), 50000},
                                     {resptrace::IpAddress::V4(server_ip), 6379});
  const std::string lost = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n";
  int64_t ts = 1'700'000'000'000'000'000;
  const auto next = [&ts] { return ts += 1'000'000; };
  {
    auto writer = resptrace::PcapWriter::ForSegments(path);
    ASSERT_TRUE(writer.ok()) << writer.status();
    const auto w = [&](const resptrace::Segment& x) { (*writer)->WriteSegment(x); };
    w(k.Syn(next()));
    w(k.SynAck(next()));
    w(k.FromClient("", next()));
    w(k.FromClient("*1\r\n$4\r\nPING\r\n", next()));
    k.LoseFromClient(lost.size());  // the GET's segment is not in the capture
    w(k.FromClient("*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", next()));
    w(k.FromServer("+PONG\r\n$-1\r\n$2\r\nhi\r\n", next()));
    w(k.FromClient("", next(), resptrace::tcp_flags::kFin));
    w(k.FromServer("", next(), resptrace::tcp_flags::kFin));
    w(k.FromClient("", next()));
    ASSERT_TRUE((*writer)->Close().ok());
  }
  const RunResult r = RunResptrace({"-r", path, "-o", "json"});
  const RunResult text = RunResptrace({"-r", path, "-o", "text"});
  std::filesystem::remove(path);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<json> records;
  std::string error;
  ASSERT_TRUE(resptrace_test::ParseJsonLines(r.out, &records, &error)) << error;
  for (const json& rec : records) EXPECT_EQ(SchemaProblem(rec), "") << rec.dump();
  // Written as they complete: the gap as it is found, the PING once its reply came.
  ASSERT_EQ(records.size(), 3u) << r.out;
  EXPECT_EQ(records[0]["type"], "gap");
  EXPECT_EQ(records[0]["client"], "10.0.0.1:50000");
  EXPECT_EQ(records[0]["server"], "10.0.0.2:6379");
  EXPECT_EQ(records[0]["stream"], "requests");
  EXPECT_EQ(records[0]["bytes"], lost.size());
  EXPECT_EQ(records[1]["cmd"], "PING");
  EXPECT_EQ(records[1]["reply"], "PONG");
  // The ECHO, sent after the gap, is proven by the client's FIN to have the last reply; the
  // one before it answers the lost GET, and is counted as a reply without a command.
  EXPECT_EQ(records[2]["cmd"], "ECHO");
  EXPECT_EQ(records[2]["reply"], "hi");
  EXPECT_THAT(r.err, ::testing::HasSubstr(", 1 gaps (20 bytes)\n  replies without a command: 1\n"));
  EXPECT_THAT(text.out, ::testing::HasSubstr(" 10.0.0.1:50000 -> 10.0.0.2:6379 gap: 20 bytes of "
                                             "requests lost\n"));
}

TEST(CommandLineTest, UnwritableOutputIsAnErrorNotASilentLoss) {
  RunResult r = resptrace_test::RunProgram("/bin/sh", {"-c", std::string(RESPTRACE_BINARY) + " -r " +
                                                 DataPath("zeek/set.pcap") + " > /dev/full"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("cannot write records"), std::string::npos) << r.err;
}

// Every password the public captures carry, in AUTH commands: none may reach any output.
TEST(SecretsTest, NoPasswordFromTheCapturesReachesAnyOutput) {
  const std::vector<std::string> captures = {"zeek/auth.pcap", "spicy-redis/auth.pcap",
                                             "zeek/redis-50-pings.pcap", "zeek/almost-resp.pcap",
                                             "spicy-redis/almost-resp.pcap", "malcolm/Redis.pcap"};
  // ("password", a password in two of them, also stands in COMMAND DOCS replies: the AUTH
  // records themselves are checked for it below.)
  const std::vector<std::string> passwords = {"defaultpassword", "notapassword",
                                              "defaultpasswordinvalid", "zeek"};
  // With --redact-values too: a secret keeps its own form there, without its length.
  for (const std::string& capture : captures) {
    for (const std::string mode :
         {"json", "text", "none", "json --redact-values", "text --redact-values"}) {
      std::vector<std::string> args = {"-r", DataPath(capture), "-p", "6379,10625", "-o",
                                       mode.substr(0, 4)};
      if (mode.size() > 4) args.push_back("--redact-values");
      RunResult r = RunResptrace(args);
      EXPECT_EQ(r.exit_code, 0) << capture << " " << Describe(r);
      ASSERT_FALSE(r.out.empty() && mode != "none") << capture << " " << mode;
      for (const std::string& pw : passwords) {
        // "password" also stands in Redis's own error text; look for it as an argument.
        for (const std::string& shown : {"\"" + pw + "\"", " " + pw + " ", " " + pw + "\n"}) {
          EXPECT_EQ(r.out.find(shown), std::string::npos) << capture << " -o " << mode << ": " << pw;
          EXPECT_EQ(r.err.find(shown), std::string::npos) << capture << " -o " << mode << ": " << pw;
        }
      }
      if (!mode.starts_with("json")) continue;
      std::vector<json> records;
      std::string error;
      ASSERT_TRUE(resptrace_test::ParseJsonLines(r.out, &records, &error)) << error;
      int auths = 0;
      for (const json& rec : records) {
        if (rec["type"] != "command" || rec["cmd"] != "AUTH") continue;
        ++auths;
        ASSERT_FALSE(rec["args"].empty()) << rec.dump();
        EXPECT_EQ(rec["args"].back(), json({{"redacted", true}})) << capture << ": " << rec.dump();
      }
      EXPECT_GT(auths, 0) << capture;
    }
  }
}

// ---------------------------------------------------------------------------------------
// 2. Zeek redis.log baselines.

// A Zeek TSV field: "-" is unset, "(empty)" is the empty string, and the writer escapes a
// backslash as "\\" and unprintable bytes as "\xHH".
std::optional<std::string> ZeekField(const std::string& raw) {
  if (raw == "-") return std::nullopt;
  if (raw == "(empty)") return std::string();
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (raw[i] == '\\' && i + 3 < raw.size() && raw[i + 1] == 'x') {
      out.push_back(static_cast<char>(std::stoi(raw.substr(i + 2, 2), nullptr, 16)));
      i += 3;
    } else {
      out.push_back(raw[i]);
    }
  }
  return out;
}

// One row of a redis.log, reduced to what both tools know.
struct Expected {
  std::string client;  // our "ip:port" form
  std::optional<std::string> cmd, key, value;
  enum class Reply { kNone, kError, kOk } reply = Reply::kNone;
  std::optional<std::string> reply_text;  // compared when set
};

// Reads a redis.log of either schema: Zeek's (cmd.name, success, reply.value) or the older
// spicy-redis one (cmd.command, response.err, response.data).
std::vector<Expected> ReadRedisLog(const std::string& rel) {
  std::vector<Expected> rows;
  // A filtered baseline has lost its header: it keeps Zeek's redis.log columns.
  std::vector<std::string> fields = {"ts",       "uid",      "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p",
                                     "cmd.name", "cmd.key", "cmd.value", "success",   "reply.value"};
  std::istringstream in(ReadFile(DataPath(rel)));
  std::string line;
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t tab; (tab = s.find('\t', start)) != std::string::npos; start = tab + 1) {
      parts.push_back(s.substr(start, tab - start));
    }
    parts.push_back(s.substr(start));
    return parts;
  };
  while (std::getline(in, line)) {
    if (line.rfind("#fields\t", 0) == 0) {
      fields = split(line.substr(8));
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> parts = split(line);
    EXPECT_EQ(parts.size(), fields.size()) << rel << ": " << line;
    std::map<std::string, std::string> f;
    for (size_t i = 0; i < fields.size() && i < parts.size(); ++i) f[fields[i]] = parts[i];
    Expected e;
    const std::string host = f["id.orig_h"];
    e.client = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + f["id.orig_p"];
    const bool old_schema = f.count("cmd.command") != 0;
    e.cmd = ZeekField(old_schema ? f["cmd.command"] : f["cmd.name"]);
    e.key = ZeekField(f["cmd.key"]);
    e.value = ZeekField(f["cmd.value"]);
    const std::string flag = old_schema ? f["response.err"] : f["success"];
    const std::optional<std::string> text = ZeekField(old_schema ? f["response.data"] : f["reply.value"]);
    if (flag == "-") {
      e.reply = Expected::Reply::kNone;
      EXPECT_FALSE(text.has_value()) << rel << ": " << line;
    } else if (flag == (old_schema ? "T" : "F")) {
      e.reply = Expected::Reply::kError;
      e.reply_text = text;
    } else {
      e.reply = Expected::Reply::kOk;
      e.reply_text = text;
    }
    rows.push_back(std::move(e));
  }
  return rows;
}

// A reply as Zeek writes it in reply.value: strings bare, aggregates as "[a, b]", a nil as
// the empty string.
std::string ZeekRender(const json& v, bool top = true) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return top ? "" : "-";
  if (v.is_boolean()) return v.get<bool>() ? "T" : "F";
  if (v.is_number()) return v.dump();
  if (v.is_object() && v.contains("error")) return ZeekRender(v["error"], false);
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + ZeekRender(v[i], false);
    return out + "]";
  }
  return v.dump();
}

std::string ArgText(const json& a) { return a.is_string() ? a.get<std::string>() : a.dump(); }

// Compares, connection by connection and in request order, the rows with our records.
void CompareWithLog(const std::vector<Expected>& rows, const std::vector<json>& records,
                    const std::string& what) {
  std::map<std::string, std::vector<const Expected*>> expected;
  for (const Expected& e : rows) expected[e.client].push_back(&e);
  std::map<std::string, std::vector<json>> ours = ByClient(records);
  std::set<std::string> clients;
  for (const auto& [c, v] : expected) clients.insert(c);
  for (const auto& [c, v] : ours) clients.insert(c);
  for (const std::string& client : clients) {
    const std::vector<const Expected*>& want = expected[client];
    const std::vector<json>& got = ours[client];
    EXPECT_EQ(got.size(), want.size()) << what << ": commands of " << client;
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
      const Expected& e = *want[i];
      const json& r = got[i];
      SCOPED_TRACE(what + ": " + client + " row " + std::to_string(i) + ", ours: " + r.dump().substr(0, 600));
      if (e.cmd) {
        EXPECT_EQ(r["cmd"], Upper(*e.cmd));
      }
      if (e.key) {
        ASSERT_GE(r["args"].size(), 1u);
        EXPECT_EQ(ArgText(r["args"][0]), *e.key);
      }
      if (e.value) {
        ASSERT_GE(r["args"].size(), 2u);
        EXPECT_EQ(ArgText(r["args"][1]), *e.value);
      }
      const std::string rt = r["reply_type"];
      switch (e.reply) {
        case Expected::Reply::kNone:
          EXPECT_EQ(rt, "none");
          break;
        case Expected::Reply::kError:
          EXPECT_EQ(rt, "error");
          if (e.reply_text && rt == "error") {
            EXPECT_EQ(ZeekRender(r["reply"]), *e.reply_text);
          }
          break;
        case Expected::Reply::kOk:
          EXPECT_NE(rt, "none");
          EXPECT_NE(rt, "error");
          if (e.reply_text) {
            EXPECT_EQ(ZeekRender(r["reply"]), *e.reply_text);
          }
          break;
      }
    }
  }
}

// Replies are kept whole in the comparisons (Zeek's own limits are tested separately).
const std::vector<std::string> kUncapped = {"--max-value-bytes", "0", "--max-elements", "0"};


// CLIENT REPLY OFF / ON / SKIP, every command inline and pipelined in one segment: the commands
// the server does not answer are Zeek's rows without a reply, ours with no_reply "reply_off",
// and every reply that came is on the command Zeek puts it on.
void CompareReplyMode(const std::string& capture, const std::string& log,
                      const std::vector<std::string>& want) {
  for (const char* dir : {"zeek", "spicy-redis"}) {
    const std::vector<json> records = Decode(std::string(dir) + "/" + capture, kUncapped);
    CompareWithLog(ReadRedisLog(std::string(dir) + "/" + log), records, dir);
    // "CMD args -> reply" per record, connection after connection, in request order.
    std::vector<std::string> got;
    for (const auto& [client, rs] : ByClient(records)) {
      for (const json& r : rs) {
        std::string line = r["cmd"].get<std::string>();
        for (const std::string& a : Args(r)) line += " " + a;
        EXPECT_EQ(r["inline"], true);
        if (r["reply_type"] == "none") {
          line += " -> (" + r["no_reply"].get<std::string>() + ")";
        } else {
          line += " -> " + ZeekRender(r["reply"]);
        }
        got.push_back(line);
      }
    }
    EXPECT_EQ(got, want) << dir;
  }
}

TEST(ZeekBaselineTest, ClientReplyOffOn) {
  CompareReplyMode("reply-off-on.pcap", "reply-off-on.expected.client-reply-off.redis.log",
                   {"PING -> PONG", "CLIENT REPLY OFF -> (reply_off)", "PING -> (reply_off)",
                    "CLIENT REPLY ON -> OK", "PING -> PONG", "CLIENT REPLY SKIP -> (reply_off)",
                    "PING -> (reply_off)", "PING -> PONG"});
}

TEST(ZeekBaselineTest, ClientReplyOffOnTwoConnections) {
  // Each connection has its own reply mode; both turn replies off and end so.
  CompareReplyMode("reply-off-on-2conn.pcap", "reply-off-on-2conn.expected.client-reply-off-2conn.redis.log",
                   {"PING -> PONG", "CLIENT REPLY OFF -> (reply_off)", "PING -> (reply_off)",
                    "PING -> PONG", "CLIENT REPLY OFF -> (reply_off)", "PING -> (reply_off)"});
}

TEST(ZeekBaselineTest, ClientSkipWhileOff) {
  // SKIP does nothing while replies are off: ON and both PINGs after it are answered.
  CompareReplyMode("client-skip-while-off.pcap", "client-skip-while-off.expected.client-skip-while-off.redis.log",
                   {"PING -> PONG", "CLIENT REPLY OFF -> (reply_off)", "PING -> (reply_off)",
                    "CLIENT REPLY SKIP -> (reply_off)", "CLIENT REPLY ON -> OK", "PING -> PONG",
                    "PING -> PONG"});
}

// Pub/sub: Zeek's test script prints every piece of server data it is given for the
// subscriber ("Got published data!, [subscribe, Foo, 1]"): the confirmations as well as the
// messages, and its redis.log leaves SUBSCRIBE and PSUBSCRIBE without a reply. resptrace puts
// each confirmation on its command (`replies`) and writes the messages as pushes: in wire
// order, the confirmations and the pushes of the subscriber's connection are Zeek's list.
std::vector<std::string> ZeekPublished(const std::string& rel) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(DataPath(rel)));
  const std::string prefix = "Got published data!, ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

// The server data of one connection, in record order: each command's confirmations, and
// each push.
// What the server sent `client`, pushes and confirmations, in the order it sent them: a
// command's record may be written after pushes that came later (it waits for its
// transaction, or for a proof of step), so the order is the server's, from the stamps.
std::vector<std::string> ServerData(const std::vector<json>& records, const std::string& client) {
  std::vector<std::pair<int64_t, std::string>> sent;
  const auto us = [](const json& ts) { return std::llround(ts.get<double>() * 1e6); };
  for (const json& r : records) {
    if (r["client"] != client) continue;
    if (r["type"] == "push") sent.emplace_back(us(r["ts"]), ZeekRender(r["reply"]));
    if (r.contains("replies")) {
      const int64_t at = us(r["ts"]) + r["latency_us"].get<int64_t>();
      for (const json& c : r["replies"]) sent.emplace_back(at, ZeekRender(c));
    }
  }
  std::stable_sort(sent.begin(), sent.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [at, value] : sent) out.push_back(std::move(value));
  return out;
}

// "CMD args -> reply" for each command of a connection, in request order.
std::vector<std::string> CommandLines(const std::vector<json>& records, const std::string& client) {
  std::vector<std::string> out;
  std::map<std::string, std::vector<json>> by_client = ByClient(records);
  for (const json& r : by_client[client]) {
    std::string line = r["cmd"].get<std::string>();
    for (const std::string& a : Args(r)) line += " " + a;
    out.push_back(line + " -> " + ZeekRender(r["reply"]));
  }
  return out;
}

TEST(ZeekBaselineTest, PubSubResp2) {
  const std::vector<json> records = Decode("zeek/pubsub.pcap", kUncapped);
  const std::string subscriber = "127.0.0.1:60831";
  const std::vector<std::string> published = ZeekPublished("zeek/pubsub.expected.pubsub.output");
  ASSERT_EQ(published.size(), 5u);
  EXPECT_EQ(ServerData(records, subscriber), published);
  // Zeek's rows, but with each subscribe command answered by the confirmation it printed.
  std::vector<Expected> rows = ReadRedisLog("zeek/pubsub.expected.pubsub.redis.log");
  size_t confirmations = 0;
  for (Expected& e : rows) {
    if (e.cmd == "SUBSCRIBE" || e.cmd == "PSUBSCRIBE") {
      EXPECT_EQ(e.reply, Expected::Reply::kNone);
      e.reply = Expected::Reply::kOk;
      e.reply_text = published[confirmations++];
    }
  }
  EXPECT_EQ(confirmations, 2u);
  CompareWithLog(rows, records, "pubsub");
  // Every confirmation is its command's reply; the three messages are pushes; RESET leaves
  // subscribed mode, and the GET after it pairs as usual.
  EXPECT_EQ(CommandLines(records, subscriber),
            (std::vector<std::string>{"SUBSCRIBE Foo -> [subscribe, Foo, 1]",
                                      "PSUBSCRIBE F* -> [psubscribe, F*, 2]", "RESET -> RESET",
                                      "GET sanity_check -> you_are_sane"}));
  size_t pushes = 0;
  for (const json& r : records) {
    if (r["type"] != "push") continue;
    ++pushes;
    EXPECT_EQ(r["client"], subscriber);
    EXPECT_EQ(r["reply_type"], "array");
  }
  EXPECT_EQ(pushes, 3u);
}

TEST(ZeekBaselineTest, PubSubResp2SpicyRedis) {
  // The older analyzer logs the message as a row of its own with no command; resptrace writes
  // it as a push, and the SUBSCRIBE has its confirmation.
  const std::vector<json> records = Decode("spicy-redis/pubsub.pcap", kUncapped);
  std::vector<Expected> rows = ReadRedisLog("spicy-redis/pubsub.expected.pubsub.redis.log");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_FALSE(rows[2].cmd.has_value());
  rows.pop_back();
  CompareWithLog(rows, records, "spicy-redis pubsub");
  const std::string subscriber = "127.0.0.1:56162";
  EXPECT_EQ(CommandLines(records, subscriber),
            std::vector<std::string>{"SUBSCRIBE my_channel -> [subscribe, my_channel, 1]"});
  // The capture joined the connection mid-stream: the SUBSCRIBE is proven in step only when
  // the client closes, having had every byte the server sent, so its record comes last,
  // after the message's push that the server sent after its confirmation.
  EXPECT_EQ(ServerData(records, subscriber),
            (std::vector<std::string>{"[subscribe, my_channel, 1]",
                                      "[message, my_channel, hello :)]"}));
  std::vector<json> subscribers;
  for (const json& r : records) {
    if (r["client"] == subscriber) subscribers.push_back(r);
  }
  ASSERT_EQ(subscribers.size(), 2u);
  EXPECT_EQ(subscribers[0]["type"], "push");
  EXPECT_EQ(subscribers[1]["cmd"], "SUBSCRIBE");
}

TEST(ZeekBaselineTest, PubSubResp3) {
  // After HELLO 3 the confirmations are `>` pushes too: still their commands' replies.
  const std::vector<json> records = Decode("zeek/pubsub-resp3.pcap", kUncapped);
  const std::string subscriber = "127.0.0.1:53232";
  const std::vector<std::string> published = ZeekPublished("zeek/pubsub-resp3.expected.pubsub-resp3.output");
  ASSERT_EQ(published.size(), 5u);
  EXPECT_EQ(ServerData(records, subscriber), published);
  std::vector<std::string> lines = CommandLines(records, subscriber);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].rfind("HELLO 3 -> [[server, redis], [version, 7.2.5], [proto, 3]", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("COMMAND DOCS -> [[", 0), 0u);
  lines.erase(lines.begin(), lines.begin() + 2);
  // RESP3 runs any command while subscribed.
  EXPECT_EQ(lines, (std::vector<std::string>{"SUBSCRIBE Foo -> [subscribe, Foo, 1]",
                                             "PSUBSCRIBE F* -> [psubscribe, F*, 2]",
                                             "SET random_key random_val -> OK", "PING -> PONG"}));
  std::map<std::string, std::vector<json>> by_client = ByClient(records);
  for (const json& r : by_client[subscriber]) {
    if (r["cmd"] == "SUBSCRIBE" || r["cmd"] == "PSUBSCRIBE") {
      EXPECT_EQ(r["reply_type"], "push");
    }
  }
  size_t pushes = 0;
  for (const json& r : records) {
    if (r["type"] != "push") continue;
    ++pushes;
    EXPECT_EQ(r["client"], subscriber);
    EXPECT_EQ(r["reply_type"], "push");
  }
  EXPECT_EQ(pushes, 3u);
  // The publisher: HELLO 3, COMMAND DOCS, and two PUBLISHes answered with their receivers.
  const std::vector<std::string> publisher = CommandLines(records, "127.0.0.1:53234");
  ASSERT_EQ(publisher.size(), 4u);
  EXPECT_EQ(publisher[2], "PUBLISH Foo Hi:) -> 2");
  EXPECT_EQ(publisher[3], "PUBLISH Foobar Hello! -> 1");
}

TEST(ZeekBaselineTest, AlmostResp) {
  // Two inline commands answered "+OK +OK", then the server sends text that is not RESP.
  // Nothing may be invented from that text: exactly the two commands.
  for (const char* dir : {"zeek", "spicy-redis"}) {
    const std::vector<json> records = Decode(std::string(dir) + "/almost-resp.pcap", kUncapped);
    std::vector<Expected> rows = ReadRedisLog(std::string(dir) + "/almost-resp.expected.almost-redis.redis.log");
    CompareWithLog(rows, records, dir);
    const std::vector<json> cmds = Commands(records);
    ASSERT_EQ(cmds.size(), 2u);
    EXPECT_EQ(cmds[0]["cmd"], "AUTH");
    // The password is never shown (docs/records.md, Secrets).
    EXPECT_EQ(cmds[0]["args"], json::parse(R"(["noone", {"redacted": true}])"));
    EXPECT_EQ(cmds[0]["inline"], true);
    EXPECT_EQ(cmds[0]["reply"], "OK");
    EXPECT_EQ(cmds[1]["cmd"], "PING");
    EXPECT_EQ(cmds[1]["reply"], "OK");
    EXPECT_EQ(records.size(), 2u) << "no push or other record from the non-RESP text";
  }
}

TEST(ZeekBaselineTest, Attributes) {
  // RESP3 attributes are not part of the value they annotate: [1, 2, 3] and
  // [2039123, 9543892], as Zeek reports. The stray "\n" after each reply answers nothing.
  const std::vector<json> records = Decode("zeek/attr.pcap", kUncapped);
  CompareWithLog(ReadRedisLog("zeek/attr.expected.attributes.redis.log"), records, "attr");
  const std::vector<json> cmds = Commands(records);
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0]["reply"], json::parse("[1,2,3]"));
  EXPECT_EQ(cmds[0]["reply_type"], "array");
  EXPECT_EQ(Args(cmds[0]), std::vector<std::string>{"COMMAND"});
  EXPECT_EQ(cmds[1]["reply"], json::parse("[2039123,9543892]"));
  EXPECT_EQ(Args(cmds[1]), std::vector<std::string>{"COMMAND2"});
}

TEST(ZeekBaselineTest, DjangoCloud) {
  for (const char* dir : {"zeek/django-cloud.pcapng", "spicy-redis/django-cloud.pcap"}) {
    const std::vector<json> records = Decode(dir, kUncapped);
    const std::string log = std::string(dir).substr(0, std::string(dir).find('/')) +
                            "/django-cloud.expected.django-cloud.redis.log";
    std::vector<Expected> rows = ReadRedisLog(log);
    ASSERT_EQ(rows.size(), 158u);
    if (std::string(dir).rfind("spicy-redis/", 0) == 0) {
      // The old spicy-redis analyzer pairs the nil reply of GET :1:factorial_100 (row 56)
      // with the next "+OK", and logs the last two SETs as unanswered; the wire has "$-1",
      // then "+OK" for both SETs (as the zeek/ baseline of the same traffic says).
      EXPECT_EQ(rows[56].reply_text, "OK");
      rows[56].reply_text = "";
      for (size_t i : {156, 157}) {
        EXPECT_EQ(rows[i].reply, Expected::Reply::kNone);
        rows[i].reply = Expected::Reply::kOk;
        rows[i].reply_text = "OK";
      }
    }
    CompareWithLog(rows, records, dir);
    const std::vector<json> cmds = Commands(records);
    EXPECT_EQ(std::count_if(cmds.begin(), cmds.end(), [](const json& r) { return r["cmd"] == "SET"; }), 152);
    EXPECT_EQ(std::count_if(cmds.begin(), cmds.end(), [](const json& r) { return r["cmd"] == "GET"; }), 6);
    // The nil reply Zeek logs as "(empty)" is a RESP null for us.
    ASSERT_GE(cmds.size(), 3u);
    EXPECT_EQ(cmds[2]["reply_type"], "null");
    EXPECT_EQ(cmds[0]["reply"], "6");
    EXPECT_EQ(cmds[0]["reply_type"], "bulk");
    // SET key value PX 60000: the whole request is kept.
    EXPECT_EQ(Args(cmds[3]), (std::vector<std::string>{":1:factorial_1", "1", "PX", "60000"}));
  }
}

TEST(ZeekBaselineTest, ExcessivePipelining) {
  for (const char* dir : {"zeek", "spicy-redis"}) {
    std::vector<Expected> rows =
        ReadRedisLog(std::string(dir) + "/excessive-pipelining.expected.excessive-pipelining.redis.log");
    ASSERT_EQ(rows.size(), 12u);
    // Zeek stops parsing requests past its pipeline-depth limit and logs cmd "-" for rows
    // 6-12. resptrace has no such limit below --max-pending (10000): all 12 are PINGs.
    for (size_t i = 5; i < rows.size(); ++i) {
      EXPECT_FALSE(rows[i].cmd.has_value());
      rows[i].cmd = "PING";
    }
    const std::vector<json> records = Decode(std::string(dir) + "/excessive-pipelining.pcap", kUncapped);
    CompareWithLog(rows, records, dir);
    for (const json& r : Commands(records)) {
      EXPECT_EQ(r["inline"], true);
      EXPECT_EQ(r["req_bytes"], 6);
      EXPECT_EQ(r["reply_bytes"], 7);
    }
  }
}

TEST(ZeekBaselineTest, PipelineQuotes) {
  for (const char* dir : {"zeek", "spicy-redis"}) {
    std::vector<Expected> rows =
        ReadRedisLog(std::string(dir) + "/pipeline-quotes.expected.pipeline-with-quotes.redis.log");
    ASSERT_EQ(rows.size(), 8u);
    // Zeek logs the inline value as written, quotes included; Redis (sdssplitargs) and
    // resptrace unquote and unescape it, which is what the server stored.
    const char* stored[] = {"my value with spaces", "my value with single quotes",
                            "my value with \"double\" inners", "my value with 'single' inners",
                            "my value with \"escaped\" quotes", "my value with 'escaped' quotes"};
    for (size_t i = 0; i < 6; ++i) rows[i].value = stored[i];
    // "SET bad1 "unclosed..." and "SET bad2 'unclosed..." are not commands for Redis: it
    // answers the first with a protocol error and closes the connection, so the second is
    // never read. resptrace reports both as malformed requests (cmd "", no args), checked below.
    for (size_t i = 6; i < 8; ++i) rows[i].cmd = rows[i].key = rows[i].value = std::nullopt;
    const std::vector<json> records = Decode(std::string(dir) + "/pipeline-quotes.pcap", kUncapped);
    CompareWithLog(rows, records, dir);
    const std::vector<json> cmds = Commands(records);
    ASSERT_EQ(cmds.size(), 8u);
    for (size_t i = 0; i < 6; ++i) {
      EXPECT_EQ(cmds[i]["cmd"], "SET");
      EXPECT_EQ(cmds[i]["inline"], true);
      EXPECT_EQ(cmds[i]["reply"], "OK");
      EXPECT_FALSE(cmds[i].contains("malformed"));
    }
    EXPECT_EQ(cmds[6]["cmd"], "");
    EXPECT_EQ(cmds[6]["args"], json::array());
    EXPECT_EQ(cmds[6]["malformed"], "unbalanced_quotes");
    EXPECT_EQ(cmds[6]["reply"], json::parse(R"({"error":"ERR Protocol error: unbalanced quotes in request"})"));
    EXPECT_EQ(cmds[7]["cmd"], "");
    EXPECT_EQ(cmds[7]["malformed"], "unbalanced_quotes");
    EXPECT_EQ(cmds[7]["reply_type"], "none");
    // The server's FIN follows the error.
    EXPECT_EQ(cmds[7]["no_reply"], "closed");
  }
}

TEST(ZeekBaselineTest, PipelineWithCommands) {
  for (const char* dir : {"zeek", "spicy-redis"}) {
    const std::vector<json> records = Decode(std::string(dir) + "/pipeline-with-commands.pcap", kUncapped);
    CompareWithLog(ReadRedisLog(std::string(dir) + "/pipeline-with-commands.expected.pipelined-with-commands.redis.log"),
                   records, dir);
    const std::vector<json> cmds = Commands(records);
    ASSERT_EQ(cmds.size(), 4u);
    EXPECT_EQ(cmds[3]["reply_type"], "bulk");
    EXPECT_EQ(cmds[3]["reply"], "3");
    EXPECT_EQ(cmds[3]["reply_bytes"], 7);
  }
}

TEST(ZeekBaselineTest, PipeliningExample) {
  for (const char* dir : {"zeek", "spicy-redis"}) {
    const std::vector<json> records = Decode(std::string(dir) + "/pipelining-example.pcap", kUncapped);
    CompareWithLog(ReadRedisLog(std::string(dir) + "/pipelining-example.expected.pipelined.redis.log"), records, dir);
    EXPECT_EQ(Commands(records).size(), 3u);
  }
}

TEST(ZeekBaselineTest, Stream) {
  for (const char* dir : {"zeek", "spicy-redis"}) {
    const std::vector<json> records = Decode(std::string(dir) + "/stream.pcap", kUncapped);
    CompareWithLog(ReadRedisLog(std::string(dir) + "/stream.expected.stream.redis.log"), records, dir);
    const std::vector<json> cmds = Commands(records);
    ASSERT_EQ(cmds.size(), 4u);
    EXPECT_EQ(Args(cmds[0]), (std::vector<std::string>{"race:france", "*", "rider", "Castilla", "speed", "30.2",
                                                       "position", "1", "location_id", "1"}));
    EXPECT_EQ(cmds[3]["reply"],
              json::parse(R"([["1729622770972-0",["rider","Castilla","speed","30.2","position","1","location_id","1"]],)"
                          R"(["1729622778221-0",["rider","Norem","speed","28.8","position","3","location_id","1"]]])"));
  }
}

TEST(ZeekBaselineTest, LargeRequestsResponsesUncapped) {
  const std::vector<json> records = Decode("zeek/large-requests-responses.pcap", kUncapped);
  // The filtered baseline drops the COMMAND DOCS row; it is checked apart.
  std::vector<json> without_command;
  for (const json& r : Commands(records)) {
    if (r["cmd"] != "COMMAND") without_command.push_back(r);
  }
  CompareWithLog(ReadRedisLog("zeek/large-requests-responses.expected.large-requests-responses.redis-uncapped.filtered.log"),
                 without_command, "uncapped");
  const std::vector<json> cmds = Commands(records);
  ASSERT_EQ(cmds.size(), 5u);
  EXPECT_EQ(cmds[0]["cmd"], "COMMAND");
  EXPECT_EQ(Args(cmds[0]), std::vector<std::string>{"DOCS"});
  EXPECT_EQ(cmds[0]["reply_type"], "array");
  ASSERT_TRUE(cmds[0]["reply"].is_array());
  ASSERT_FALSE(cmds[0]["reply"].empty());
  EXPECT_EQ(cmds[0]["reply"][0], "fcall_ro");
  EXPECT_EQ(cmds[1]["args"][1], std::string(500, 'X'));
  EXPECT_EQ(cmds[2]["args"][1], std::string(1000, 'X'));
}

TEST(ZeekBaselineTest, LargeRequestsResponsesCapped) {
  // Zeek's Redis::max_value_size=10 cuts keys and values to 10 bytes; --max-value-bytes 10
  // does the same and says how long the value was.
  const std::vector<json> records = Decode("zeek/large-requests-responses.pcap", {"--max-value-bytes", "10"});
  const std::vector<Expected> rows =
      ReadRedisLog("zeek/large-requests-responses.expected.large-requests-responses.redis-smaller.log");
  const std::vector<json> cmds = Commands(records);
  ASSERT_EQ(cmds.size(), 5u);
  ASSERT_EQ(rows.size(), 5u);
  auto cut = [](const std::string& s, size_t len) { return json{{"truncated", s}, {"len", len}}; };
  EXPECT_EQ(cmds[1]["args"][0], cut(*rows[1].key, 14));  // FIVE_HUNDRED_X
  EXPECT_EQ(cmds[1]["args"][1], cut(*rows[1].value, 500));
  EXPECT_EQ(cmds[2]["args"][0], "THOUSAND_X");  // exactly 10 bytes: not cut
  EXPECT_EQ(cmds[2]["args"][1], cut(*rows[2].value, 1000));
  EXPECT_EQ(cmds[3]["reply"], cut(*rows[3].reply_text, 500));
  EXPECT_EQ(cmds[4]["reply"], cut(*rows[4].reply_text, 1000));
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(cmds[i]["reply"], "OK");
}

TEST(ZeekBaselineTest, LoopRedis) {
  const std::vector<json> records = Decode("spicy-redis/loop-redis.pcap", kUncapped);
  CompareWithLog(ReadRedisLog("spicy-redis/loop-redis.expected.trace.redis.log"), records, "loop-redis");
}

TEST(ZeekBaselineTest, DjangoCache) {
  std::vector<Expected> rows = ReadRedisLog("spicy-redis/django-cache.expected.django.redis.log");
  ASSERT_EQ(rows.size(), 316u);
  // The old spicy-redis analyzer's replies are wrong in three rows; the wire says:
  //  row 58: GET :1:factorial_256 is answered "$-1" (a nil), not "OK";
  //  rows 315, 316: the last SET and GET :1:factorial_4 are answered (+OK, "$2 24").
  EXPECT_EQ(rows[57].reply_text, "OK");
  rows[57].reply_text = std::nullopt;
  EXPECT_EQ(rows[314].reply, Expected::Reply::kNone);
  rows[314].reply = Expected::Reply::kOk;
  rows[314].reply_text = "OK";
  EXPECT_EQ(rows[315].reply, Expected::Reply::kNone);
  rows[315].reply = Expected::Reply::kOk;
  rows[315].reply_text = "24";
  const std::vector<json> records = Decode("spicy-redis/django-cache.pcap", kUncapped);
  CompareWithLog(rows, records, "django-cache");
  const std::vector<json> cmds = Commands(records);
  ASSERT_EQ(cmds.size(), 316u);
  EXPECT_EQ(cmds[57]["reply_type"], "null");
  EXPECT_EQ(cmds[2]["reply_type"], "null");
  EXPECT_EQ(Args(cmds[0]), (std::vector<std::string>{"SETINFO", "LIB-NAME", "redis-py"}));
  // The flagged "lost segment" is a keep-alive ACK on another connection: nothing is lost.
  for (const json& r : cmds) EXPECT_NE(r["reply_type"], "none") << r.dump();
}

TEST(ZeekBaselineTest, StartWithServer) {
  // Zeek refuses a connection whose server speaks first (empty baseline). The capture joins
  // the connection mid-stream: the first "+OK" answers a command it never had. The SET is
  // proven in step as it is sent: the client had that "+OK", which the server sent having
  // every byte the client sent before the SET. So the SET pairs with the second "+OK".
  EXPECT_EQ(ReadFile(DataPath("zeek/start-with-server.expected.start-with-server.output")).find("SET"),
            std::string::npos);
  const std::vector<json> cmds = Commands(Decode("zeek/start-with-server.pcapng"));
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0]["cmd"], "SET");
  EXPECT_EQ(Args(cmds[0]), (std::vector<std::string>{"hello", "there"}));
  EXPECT_EQ(cmds[0]["reply"], "OK");
  EXPECT_EQ(cmds[0]["latency_us"], 160);
}

TEST(ZeekBaselineTest, Auth) {
  // Zeek's script prints each AUTH's user, password and outcome; resptrace reports the same
  // user and outcome, and the password redacted.
  std::vector<std::string> lines;
  std::istringstream output(ReadFile(DataPath("zeek/auth.expected.auth.output")));
  for (std::string line; std::getline(output, line);) lines.push_back(line);
  struct Auth {
    std::string user, password, outcome;
  };
  std::vector<Auth> want;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] != "AUTH") continue;
    ASSERT_LT(i + 3, lines.size());
    Auth a;
    a.user = lines[i + 1].substr(std::string("username: ").size());
    a.password = lines[i + 2].substr(std::string("password: ").size());
    const std::string& outcome = lines[i + 3];
    a.outcome = outcome.substr(outcome.find(", ") + 2);
    want.push_back(a);
  }
  ASSERT_EQ(want.size(), 3u);
  const std::vector<json> cmds = Commands(Decode("zeek/auth.pcap"));
  ASSERT_EQ(cmds.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(cmds[i].dump());
    EXPECT_EQ(cmds[i]["cmd"], "AUTH");
    ASSERT_EQ(cmds[i]["args"].size(), 2u);
    EXPECT_EQ(cmds[i]["args"][0], want[i].user);
    EXPECT_EQ(cmds[i]["args"][1], json({{"redacted", true}}));
    EXPECT_EQ(cmds[i]["args"].dump().find(want[i].password), std::string::npos);
    if (want[i].outcome == "OK") {
      EXPECT_EQ(cmds[i]["reply"], "OK");
    } else {
      EXPECT_EQ(cmds[i]["reply"], json({{"error", want[i].outcome}}));
      EXPECT_EQ(cmds[i]["error_prefix"], "WRONGPASS");
    }
  }
}

TEST(ZeekBaselineTest, RedisFiftyPings) {
  const std::vector<json> cmds = Commands(Decode("zeek/redis-50-pings.pcap"));
  ASSERT_EQ(cmds.size(), 54u);
  EXPECT_EQ(cmds[0]["cmd"], "AUTH");
  EXPECT_EQ(cmds[0]["reply"], "OK");
  EXPECT_EQ(cmds[1]["cmd"], "CLIENT");
  EXPECT_EQ(cmds[2]["cmd"], "CLIENT");
  for (size_t i = 3; i < 53; ++i) {
    EXPECT_EQ(cmds[i]["cmd"], "PING");
    EXPECT_EQ(cmds[i]["reply"], "PONG");
  }
  EXPECT_EQ(cmds[53]["cmd"], "QUIT");
  EXPECT_EQ(cmds[53]["reply"], "OK");
}

// ---------------------------------------------------------------------------------------
// 3. tcpdump: every request tcpdump prints is among our records.

// The quoted strings tcpdump prints for each client->server RESP packet, per client port.
std::map<std::string, std::vector<std::string>> TcpdumpRequests(const std::string& rel) {
  std::map<std::string, std::vector<std::string>> by_port;
  std::istringstream in(ReadFile(DataPath(rel)));
  std::string line;
  while (std::getline(in, line)) {
    // "... IP 127.0.0.1.35901 > 127.0.0.1.6379: Flags [P.], ..., length 6: RESP "PING""
    const size_t ip = line.find(" IP ");
    const size_t gt = line.find(" > ", ip);
    const size_t resp = line.find(": RESP ", gt);
    if (ip == std::string::npos || gt == std::string::npos || resp == std::string::npos) continue;
    const size_t to_end = line.find(": ", gt);
    const std::string to = line.substr(gt + 3, to_end - gt - 3);
    if (to.size() < 5 || to.substr(to.size() - 5) != ".6379") continue;  // server to client
    const std::string from = line.substr(ip + 4, gt - ip - 4);
    const std::string port = from.substr(from.rfind('.') + 1);
    for (size_t open = line.find('"', resp); open != std::string::npos; open = line.find('"', open)) {
      const size_t close = line.find('"', open + 1);
      if (close == std::string::npos) break;
      by_port[port].push_back(line.substr(open + 1, close - open - 1));
      open = close + 1;
    }
  }
  return by_port;
}

// Our requests in tcpdump's spelling: an inline command is one string (the line), a RESP
// array one string per element. Command names are compared upper-cased.
std::vector<std::string> AsTcpdumpStrings(const std::vector<json>& cmds) {
  std::vector<std::string> out;
  for (const json& r : cmds) {
    if (r.contains("inline")) {
      std::string line = r["cmd"];
      for (const std::string& a : Args(r)) line += " " + a;
      out.push_back(line);
    } else {
      out.push_back(r["cmd"]);
      for (const std::string& a : Args(r)) out.push_back(a);
    }
  }
  return out;
}

std::string UpperFirstWord(const std::string& s) {
  const size_t sp = s.find(' ');
  return Upper(s.substr(0, sp)) + (sp == std::string::npos ? "" : s.substr(sp));
}

void CompareWithTcpdump(const std::string& pcap, const std::string& expected, size_t connections) {
  const std::map<std::string, std::vector<std::string>> want = TcpdumpRequests(expected);
  const std::map<std::string, std::vector<json>> ours = ByClient(Decode(pcap));
  EXPECT_EQ(want.size(), connections);
  EXPECT_EQ(ours.size(), connections);
  for (const auto& [port, strings] : want) {
    const std::string client = "127.0.0.1:" + port;
    ASSERT_TRUE(ours.count(client)) << pcap << ": no records for " << client;
    const std::vector<std::string> got = AsTcpdumpStrings(ours.at(client));
    // tcpdump prints the first bytes of each packet; a request array split over segments
    // would be printed partly. Every capture here has one request (or pipeline) per packet.
    ASSERT_EQ(got.size(), strings.size()) << pcap << " " << client;
    for (size_t i = 0; i < got.size(); ++i) {
      // Only the command name is upper-cased by resptrace; the first string of each request
      // is a command name (or an inline line starting with one).
      EXPECT_TRUE(got[i] == strings[i] || got[i] == UpperFirstWord(strings[i]))
          << pcap << " " << client << " string " << i << ": tcpdump \"" << strings[i] << "\", ours \"" << got[i] << "\"";
    }
  }
}

TEST(TcpdumpBaselineTest, Benchmark) {
  CompareWithTcpdump("tcpdump/resp_1_benchmark.pcap", "tcpdump/resp_1_benchmark.expected.out", 15);
  const std::vector<json> cmds = Commands(Decode("tcpdump/resp_1_benchmark.pcap"));
  EXPECT_EQ(cmds.size(), 15u);
  for (const json& r : cmds) EXPECT_NE(r["reply_type"], "none") << r.dump().substr(0, 300);
  // LRANGE_600 answers 600 bulk strings across several segments; --max-elements 0 keeps all.
  const std::vector<json> all = Commands(Decode("tcpdump/resp_1_benchmark.pcap", {"--max-elements", "0"}));
  std::map<size_t, int> lrange_sizes;
  for (const json& r : all) {
    if (r["cmd"] == "LRANGE") ++lrange_sizes[r["reply"].size()];
  }
  EXPECT_EQ(lrange_sizes, (std::map<size_t, int>{{100, 1}, {300, 1}, {450, 1}, {600, 1}}));
}

TEST(TcpdumpBaselineTest, Inline) {
  CompareWithTcpdump("tcpdump/resp_2_inline.pcap", "tcpdump/resp_2_inline.expected.out", 1);
  const std::vector<json> cmds = Commands(Decode("tcpdump/resp_2_inline.pcap", {"--max-elements", "0"}));
  ASSERT_EQ(cmds.size(), 12u);
  for (const json& r : cmds) EXPECT_EQ(r["inline"], true);
  EXPECT_EQ(cmds[0]["reply"], "OK");
  EXPECT_EQ(cmds[1]["reply"], 2);
  EXPECT_EQ(cmds[3]["reply"], "redis");
  EXPECT_EQ(cmds[4]["reply"], 170);
  EXPECT_EQ(cmds[9]["cmd"], "LRANGE");
  EXPECT_EQ(cmds[9]["reply"].size(), 174u);
  EXPECT_EQ(cmds[10]["reply"], 0);  // del test4
  EXPECT_EQ(cmds[11]["reply_type"], "null");  // get test4
}

// ---------------------------------------------------------------------------------------
// 4. packetbeat/EXPECTED.md

TEST(PacketbeatBaselineTest, Session) {
  const std::vector<json> cmds = Commands(Decode("packetbeat/redis_session.pcap"));
  struct Want {
    const char* cmd;
    std::vector<std::string> args;
    json reply;
    const char* reply_type;
    int req_bytes, reply_bytes, latency_us;
  };
  const std::vector<Want> want = {
      {"SET", {"key3", "me"}, "OK", "simple", 31, 5, 830},
      {"GET", {"key3"}, "me", "bulk", 23, 8, 122},
      {"LLEN", {"key3"}, {{"error", "ERR Operation against a key holding the wrong kind of value"}}, "error", 24, 62, 11898},
      {"LPUSH", {"test", "hello"}, 1, "integer", 36, 4, 305},
      {"LPUSH", {"test", "hello1"}, 2, "integer", 37, 4, 602},
      {"LPUSH", {"test", "hello2"}, 3, "integer", 37, 4, 82},
      {"LLEN", {"test"}, 3, "integer", 24, 4, 55},
      {"LINDEX", {"test", "2"}, "hello", "bulk", 33, 11, 693},
      {"LINDEX", {"test", "3"}, nullptr, "null", 33, 5, 122},
      {"LINDEX", {"test", "1"}, "hello1", "bulk", 33, 12, 466},
      {"LINDEX", {"test", "0"}, "hello2", "bulk", 33, 12, 477},
  };
  ASSERT_EQ(cmds.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("transaction " + std::to_string(i + 1) + ": " + cmds[i].dump());
    EXPECT_EQ(cmds[i]["cmd"], want[i].cmd);
    EXPECT_EQ(Args(cmds[i]), want[i].args);
    EXPECT_EQ(cmds[i]["reply"], want[i].reply);
    EXPECT_EQ(cmds[i]["reply_type"], want[i].reply_type);
    EXPECT_EQ(cmds[i]["req_bytes"], want[i].req_bytes);
    EXPECT_EQ(cmds[i]["reply_bytes"], want[i].reply_bytes);
    EXPECT_EQ(cmds[i]["latency_us"], want[i].latency_us);
    EXPECT_EQ(cmds[i]["client"], "127.0.0.1:32810");
    EXPECT_EQ(cmds[i]["server"], "127.0.0.1:6380");
  }
}

TEST(PacketbeatBaselineTest, OneTransaction) {
  const std::vector<json> records = Decode("packetbeat/redis_one_transaction.pcap");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["cmd"], "LINDEX");
  EXPECT_EQ(Args(records[0]), (std::vector<std::string>{"test", "1"}));
  // Packetbeat pairs the one reply with the LINDEX. The capture is the request and the reply,
  // no handshake and no acknowledgement after: nothing shows that no earlier command was
  // still waiting for that reply, so resptrace reports the command unmatched.
  EXPECT_EQ(records[0]["no_reply"], "desync");
  EXPECT_EQ(records[0]["reply"], nullptr);
  EXPECT_EQ(records[0]["req_bytes"], 33);
  EXPECT_EQ(records[0]["ts"], 1423845110.746081);
}

// ---------------------------------------------------------------------------------------
// 5. deepflow

TEST(DeepflowBaselineTest, Redis) {
  // deepflow counts 10 requests and 10 responses, rrt_sum 592 us, rrt_max 96 us. Nine
  // replies are whole; the tenth, a 490,493-byte bulk string, has all its bytes but not its
  // closing CRLF when the capture ends. It is reported as that reply, marked reply_cut, its
  // size the declared one, its latency to the last byte captured (docs/records.md).
  // deepflow's 10th rrt (62 us) runs to the reply's first packet, ours (414 us) to its last
  // captured byte: hence its sum 592 and ours 530 + 414.
  const std::vector<json> cmds = Commands(Decode("deepflow/redis.pcap"));
  ASSERT_EQ(cmds.size(), 10u);
  std::map<std::string, std::vector<int>> latencies;
  int answered = 0, sum = 0, max = 0;
  for (const json& r : cmds) {
    ASSERT_NE(r["reply_type"], "none");
    if (r.contains("reply_cut")) continue;
    ++answered;
    const int us = r["latency_us"].get<int>();
    sum += us;
    max = std::max(max, us);
    latencies[r["client"]].push_back(us);
  }
  EXPECT_EQ(answered, 9);
  EXPECT_EQ(sum, 530);
  EXPECT_EQ(max, 96);
  const std::map<std::string, std::vector<int>> want_latencies = {
      {"127.0.0.1:48954", {63, 83, 63}}, {"127.0.0.1:33288", {20, 28, 20}}, {"127.0.0.1:43394", {70, 87, 96}}};
  EXPECT_EQ(latencies, want_latencies);
  for (const json& r : cmds) {
    if (r["client"] == "127.0.0.1:33288") {
      EXPECT_EQ(r["cmd"], "EXISTS");
      EXPECT_EQ(Args(r), std::vector<std::string>{"verify_code"});
      EXPECT_EQ(r["reply"], 1);
    } else if (r["client"] == "127.0.0.1:60314") {
      EXPECT_EQ(r["cmd"], "GET");
      EXPECT_EQ(Args(r), std::vector<std::string>{"1 1 http://127.0.0.1:20013/v2/pod-groups"});
      EXPECT_EQ(r["reply_type"], "bulk");
      EXPECT_EQ(r["reply_cut"], true);
      EXPECT_FALSE(r.contains("no_reply"));
      EXPECT_EQ(r["latency_us"], 414);
      EXPECT_EQ(r["req_bytes"], 60);
      EXPECT_EQ(r["reply_bytes"], 490504);  // "$490493\r\n" + body + the CRLF never captured
      EXPECT_EQ(r["reply"]["len"], 490493);
      EXPECT_EQ(r["reply"]["truncated"].get<std::string>().size(), 512u);
    } else {
      EXPECT_EQ(r["cmd"], "GET");
      EXPECT_EQ(Args(r), std::vector<std::string>{"user_conf_config_1"});
      EXPECT_EQ(r["reply_type"], "bulk");
      EXPECT_EQ(r["req_bytes"], 38);
      EXPECT_EQ(r["reply_bytes"], 1116);
      // 1107 bytes of JSON text, cut at the default 512.
      EXPECT_EQ(r["reply"]["len"], 1107);
      EXPECT_EQ(r["reply"]["truncated"].get<std::string>().size(), 512u);
      EXPECT_EQ(r["reply"]["truncated"].get<std::string>().substr(0, 9), "{\"sso\": {");
    }
  }
}

TEST(DeepflowBaselineTest, RedisError) {
  const std::vector<json> cmds = Commands(Decode("deepflow/redis-error.pcap"));
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0]["cmd"], "GET");
  EXPECT_EQ(Args(cmds[0]), std::vector<std::string>{"abcd"});
  EXPECT_EQ(cmds[0]["reply_type"], "error");
  EXPECT_EQ(cmds[0]["reply"], json::parse(R"({"error":"NOAUTH Authentication required."})"));
  EXPECT_EQ(cmds[0]["error_prefix"], "NOAUTH");
  EXPECT_EQ(cmds[0]["latency_us"], 73);
  EXPECT_EQ(cmds[0]["req_bytes"], 23);
  EXPECT_EQ(cmds[0]["reply_bytes"], 34);
}

TEST(DeepflowBaselineTest, RedisDebug) {
  const std::vector<json> records = Decode("deepflow/redis-debug.pcap");
  ASSERT_EQ(records.size(), 1u);
  const json& r = records[0];
  EXPECT_EQ(r["cmd"], "LRANGE");
  EXPECT_EQ(Args(r), (std::vector<std::string>{"mylist", "0", "299"}));
  EXPECT_EQ(r["reply_type"], "array");
  EXPECT_EQ(r["reply"], json(std::vector<std::string>(300, "xxx")));
  EXPECT_EQ(r["latency_us"], 1209);
  EXPECT_EQ(r["req_bytes"], 44);
  EXPECT_EQ(r["reply_bytes"], 2706);
}

// ---------------------------------------------------------------------------------------
// 6. Hostile input.

// Every hostile capture of the corpus, in every output mode: no crash (an exit, never a
// signal), a clear exit status, and memory that stays that of any small capture.
TEST(HostileCaptureTest, EveryOneEndsCleanlyInBoundedMemory) {
  const std::vector<std::string> hostile = {
      "tcpdump/resp_3_malicious.pcap", "tcpdump/resp_4_infiniteloop.pcapng", "zeek/oss-fuzz-473580107.pcap",
      "zeek/array-element-object-exhaustion.pcap", "zeek/almost-resp.pcap", "spicy-redis/almost-resp.pcap",
      "spicy-redis/tls.pcap", "pcredz/redis.pcap", "tcpdump/babel_update_oobr.pcap"};
  for (const std::string& capture : hostile) {
    for (const char* mode : {"json", "text", "none"}) {
      const RunResult r = RunResptrace({"-r", DataPath(capture), "-p", "6379,80,10625", "-o", mode});
      SCOPED_TRACE(capture + " -o " + mode + ": " + r.err);
      EXPECT_EQ(r.term_signal, 0);
      EXPECT_EQ(r.exit_code, 0);
#if !defined(__SANITIZE_ADDRESS__)
      // About 7 MiB for any small capture here; ASan's shadow memory makes its figure moot.
      EXPECT_LT(r.max_rss_kb, 32 * 1024);
#endif
    }
  }
}

TEST(HostileCaptureTest, TcpdumpMalicious) {
  // Each connection sends one bad input to a real Redis; its replies say how Redis read them.
  // A line not starting with '*' is an inline command; "*-20" and "*-1" are empty requests
  // Redis skips silently; "+hello" without CRLF never completes.
  const std::map<std::string, std::vector<json>> by = ByClient(Decode("tcpdump/resp_3_malicious.pcap"));
  auto err = [](const std::string& text) { return json{{"error", text}}; };
  auto unknown = [&](const std::string& cmd) { return err("ERR unknown command '" + cmd + "'"); };
  struct Want {
    std::string cmd;
    json reply;
  };
  const std::string digits = ":0392049029024920492304923049032940329402394092304932049230492034932094032940234902340";
  const std::map<std::string, std::vector<Want>> want = {
      {"52760", {{"$0", unknown("$0")}}},
      {"52763", {{"+", unknown("+")}}},
      {"52764", {{"-", unknown("-")}}},
      {"52765", {{":", unknown(":")}}},
      {"52766", {{digits, unknown(digits)}}},
      {"52767", {{"", err("ERR Protocol error: invalid multibulk length")}}},
      {"52769", {{"$-20", unknown("$-20")}, {"HI", unknown("hi")}}},
      {"52775", {{"$-1", unknown("$-1")}}},
      {"52776", {{"INCR", 69}, {"INCR", 70}, {"INCR", 71}}},
      {"52777", {{"PING", "PONG"}, {"PING", "PONG"}, {"PING", "PONG"}}},
      {"52778", {{"PING", "PONG"}, {"PING", "PONG"}, {"PING", "PONG"}}},
      {"52779", {{"PING", "PONG"}, {"PING", "PONG"}, {"PING", "PONG"}}},
  };
  std::set<std::string> got_clients;
  for (const auto& [client, rs] : by) got_clients.insert(client.substr(client.rfind(':') + 1));
  std::set<std::string> want_clients;
  for (const auto& [port, ws] : want) want_clients.insert(port);
  EXPECT_EQ(got_clients, want_clients);
  for (const auto& [port, ws] : want) {
    const std::string client = "127.0.0.1:" + port;
    if (!by.count(client)) continue;
    const std::vector<json>& rs = by.at(client);
    ASSERT_EQ(rs.size(), ws.size()) << client;
    for (size_t i = 0; i < ws.size(); ++i) {
      SCOPED_TRACE(client + ": " + rs[i].dump());
      EXPECT_EQ(rs[i]["cmd"], ws[i].cmd);
      EXPECT_EQ(rs[i]["reply"], ws[i].reply);
      if (port == "52767") {
        EXPECT_EQ(rs[i]["malformed"], "bad_length");
      } else {
        EXPECT_FALSE(rs[i].contains("malformed"));
      }
      if (port == "52776") {
        EXPECT_EQ(Args(rs[i]), std::vector<std::string>{"z"});
        EXPECT_FALSE(rs[i].contains("inline"));
      } else if (port != "52767") {
        EXPECT_EQ(rs[i]["inline"], true);
      }
    }
  }
}

TEST(HostileCaptureTest, TcpdumpInfiniteLoop) {
  // One fuzzed client segment (bad TCP checksum, which a capture tool must not reject:
  // checksum offload makes them common) and no server data: nothing can be answered.
  const std::vector<json> records = Decode("tcpdump/resp_4_infiniteloop.pcapng");
  for (const json& r : records) {
    EXPECT_EQ(r["type"], "command");
    EXPECT_EQ(r["reply_type"], "none") << r.dump();
  }
}

TEST(HostileCaptureTest, OssFuzzOnPort80) {
  const std::vector<json> records = Decode("zeek/oss-fuzz-473580107.pcap");
  for (const json& r : records) EXPECT_EQ(SchemaProblem(r), "") << r.dump().substr(0, 500);
}

TEST(HostileCaptureTest, ArrayElementObjectExhaustion) {
  const std::vector<json> all = Commands(Decode("zeek/array-element-object-exhaustion.pcap"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["cmd"], "PING");
  EXPECT_EQ(all[0]["reply_type"], "array");
  EXPECT_EQ(all[0]["reply"], json(std::vector<std::nullptr_t>(1000, nullptr)));
  EXPECT_EQ(all[0]["req_bytes"], 6);
  EXPECT_EQ(all[0]["reply_bytes"], 3007);
  EXPECT_EQ(all[0]["latency_us"], 488);
  // Zeek's limit of 500 elements; resptrace keeps 500 and counts the rest.
  const std::vector<json> capped =
      Commands(Decode("zeek/array-element-object-exhaustion.pcap", {"--max-elements", "500"}));
  ASSERT_EQ(capped.size(), 1u);
  json want = json(std::vector<std::nullptr_t>(500, nullptr));
  want.push_back({{"more", 500}});
  EXPECT_EQ(capped[0]["reply"], want);
  EXPECT_EQ(capped[0]["reply_bytes"], 3007);
}

TEST(HostileCaptureTest, TlsIsNotDecodedAsRedis) {
  // RESP over TLS on 6379: the bytes are TLS records, not RESP. The server's first byte
  // (a TLS handshake record, 0x16) starts no RESP value: the connection is not decoded, and
  // no record is invented from the client's ClientHello either; the summary counts it.
  const std::vector<json> records = Decode("spicy-redis/tls.pcap");
  EXPECT_TRUE(records.empty()) << records.size() << " records, the first: " << records[0].dump().substr(0, 300);
  const RunResult r = RunResptrace({"-r", DataPath("spicy-redis/tls.pcap"), "-o", "none"});
  EXPECT_EQ(r.err,
            "resptrace: 82 packets, 1 flows, 0 commands, 0 replies, 0 unanswered, 0 pushes, 1 anomalies, "
            "0 gaps (0 bytes)\n  connections not speaking RESP: 1\n");
}

TEST(HostileCaptureTest, PcredzBrokenPacket) {
  // The literal characters "\r\n" (no CRLF): the request never completes, so there is no
  // record, and the AUTH password inside is never printed.
  for (const char* mode : {"json", "text"}) {
    const RunResult r = RunResptrace({"-r", DataPath("pcredz/redis.pcap"), "-o", mode});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_EQ(r.out, "") << mode;
    EXPECT_EQ(r.err.find("redispass1"), std::string::npos);
  }
}

TEST(HostileCaptureTest, BabelGarbageFromServerPort) {
  // Two 22-byte garbage segments from port 6379, cut by the snaplen: no request, no record.
  EXPECT_EQ(Decode("tcpdump/babel_update_oobr.pcap").size(), 0u);
}

// ---------------------------------------------------------------------------------------
// 7. Text mode.

TEST(TextOutputTest, ZeekSetLinesInUtc) {
  const RunResult r = RunResptrace({"-r", DataPath("zeek/set.pcap"), "-o", "text"}, {"TZ=UTC"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out,
            "20:19:04.999225 127.0.0.1:64356 -> 127.0.0.1:6379 SET test hi -> OK (0.314 ms)\n"
            "20:19:10.744035 127.0.0.1:64356 -> 127.0.0.1:6379 SET one:1 2 -> OK (0.236 ms)\n"
            "20:19:19.201632 127.0.0.1:64356 -> 127.0.0.1:6379 SET two:2 three -> OK (0.304 ms)\n");
}

TEST(TextOutputTest, PacketbeatRepliesOfEveryKind) {
  const RunResult r = RunResptrace({"-r", DataPath("packetbeat/redis_session.pcap"), "-p", "6380"}, {"TZ=UTC"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::vector<std::string_view> lines = resptrace_test::SplitLines(r.out);
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(lines[1], "16:30:49.047981 127.0.0.1:32810 -> 127.0.0.1:6380 GET key3 -> \"me\" (0.122 ms)");
  EXPECT_EQ(lines[2],
            "16:30:52.307872 127.0.0.1:32810 -> 127.0.0.1:6380 LLEN key3 -> (error) ERR Operation against a key "
            "holding the wrong kind of value (11.898 ms)");
  EXPECT_EQ(lines[3], "16:31:24.680048 127.0.0.1:32810 -> 127.0.0.1:6380 LPUSH test hello -> (integer) 1 (0.305 ms)");
  EXPECT_EQ(lines[8], "16:31:49.451101 127.0.0.1:32810 -> 127.0.0.1:6380 LINDEX test 3 -> (nil) (0.122 ms)");
}


// ---------------------------------------------------------------------------------------
// 8. --redact-values.

// Every value of the captures' commands and replies that the plain JSON shows: none may reach
// any output with --redact-values, while every key and command name does.
TEST(RedactValuesTest, NoValueFromTheCapturesReachesAnyOutput) {
  // Words the output writes of its own accord (field names, text tags, the summary): a value
  // inside one of them could not be told from it.
  const std::string vocabulary =
      "type command push client server cmd args subcmd keys unknown inline malformed reply_type "
      "reply latency_us req_bytes reply_bytes request_cut reply_cut no_reply redacted len missing "
      "prefix error more true false null simple integer bulk array map set double boolean bignum "
      "verbatim none (nil) (no reply: eof closed reset timeout gap desync) (reply cut short) "
      "bytes byte ms resptrace: packets flows commands replies unanswered pushes anomalies gaps "
      "tcp: out of order retransmitted overlapping duplicates from a second interface OK QUEUED PONG "
      "cut in records: values past --max-value-bytes aggregates past --max-elements "
      "evicted";
  for (const std::string capture :
       {"packetbeat/redis_session.pcap", "zeek/stream.pcap", "zeek/large-requests-responses.pcap",
        "zeek/bulk-loading.pcap", "tcpdump/resp_2_inline.pcap",
        "zeek/pubsub.pcap", "deepflow/redis-error.pcap"}) {
    const std::vector<json> plain = Decode(capture);
    // What stays: keys, command and subcommand names, error codes.
    std::set<std::string> shown;
    for (const json& r : plain) {
      if (r["type"] != "command") continue;
      shown.insert(r["cmd"].get<std::string>());
      if (r.contains("subcmd")) shown.insert(r["args"][0].get<std::string>());
      for (const json& k : r.value("keys", json::array())) {
        if (k.is_string()) shown.insert(k.get<std::string>());
      }
      if (r["reply_type"] == "error" && r["reply"]["error"].is_string()) {
        const std::string code = ErrorCodeOf(r["reply"]["error"]);
        if (!code.empty()) shown.insert(code);
      }
    }
    // The values: strings of letters or digits (written the same in JSON and text) long enough
    // not to turn up by chance, found in no key, name or word the output writes anyway.
    std::set<std::string> values;
    auto add = [&](const json& v) {
      if (!v.is_string()) return;
      const std::string s = v;
      auto plain_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || AllOf({&c, 1}, "_-:. "); };
      if (s.size() < 5 || !std::any_of(s.begin(), s.end(), ::isalpha) ||
          !std::all_of(s.begin(), s.end(), plain_char) || vocabulary.find(s) != std::string::npos) {
        return;
      }
      for (const std::string& k : shown) {
        if (k.find(s) != std::string::npos) return;
      }
      values.insert(s);
    };
    std::function<void(const json&)> add_reply = [&](const json& v) {
      if (v.is_array()) {
        for (const json& e : v) add_reply(e);
      } else if (v.is_object() && v.contains("error")) {
        add(v["error"]);
      } else {
        add(v);
      }
    };
    for (const json& r : plain) {
      add_reply(r["reply"]);
      if (r["type"] != "command") continue;
      const json keys = r.value("keys", json::array());
      for (size_t i = r.contains("subcmd") ? 1 : 0; i < r["args"].size(); ++i) {
        if (std::find(keys.begin(), keys.end(), r["args"][i]) == keys.end()) add(r["args"][i]);
      }
    }
    EXPECT_FALSE(values.empty()) << capture;
    for (const char* mode : {"json", "text", "none"}) {
      const RunResult run = RunResptrace({"-r", DataPath(capture), "-p", PortsFor(capture), "-o",
                                          mode, "--redact-values"});
      ASSERT_EQ(run.exit_code, 0) << capture << " -o " << mode << ": " << Describe(run);
      for (const std::string& v : values) {
        EXPECT_EQ(run.out.find(v), std::string::npos) << capture << " -o " << mode << ": " << v;
        EXPECT_EQ(run.err.find(v), std::string::npos) << capture << " -o " << mode << ": " << v;
      }
      if (std::string(mode) == "none") continue;
      for (const std::string& k : shown) {
        EXPECT_NE(run.out.find(k), std::string::npos) << capture << " -o " << mode << ": " << k;
      }
    }
  }
}

}  // namespace
