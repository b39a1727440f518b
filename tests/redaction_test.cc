#include "resptrace/redaction.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace resptrace {
namespace {

Message Array(const std::vector<std::string>& items) {
  Message m;
  MessageBuilder b(MessageLimits{});
  b.Begin(&m, 0, false);
  b.Aggregate(RespType::kArray, static_cast<int64_t>(items.size()));
  for (const std::string& s : items) {
    ScalarPiece p{RespType::kBulkString, s};
    p.declared_len = static_cast<int64_t>(s.size());
    b.Scalar(p);
  }
  return m;
}

// The request's arguments, secret ones shown as "*".
std::string Shown(const Message& m) {
  std::string out;
  const ValueNode* c = Message::first_child(m.root());
  for (uint32_t i = 0; i < m.root()->children; ++i, c = Message::next_sibling(c)) {
    if (i) out += ' ';
    out += c->secret ? std::string("*") : std::string(m.data(*c));
  }
  return out;
}

std::string Redact(const std::vector<std::string>& cmd) {
  Message m = Array(cmd);
  MarkSecrets(m, nullptr);
  return Shown(m);
}

TEST(RedactionTest, CommandsCarryingPasswords) {
  EXPECT_EQ(Redact({"AUTH", "hunter2"}), "AUTH *");
  EXPECT_EQ(Redact({"auth", "alice", "hunter2"}), "auth alice *");
  EXPECT_EQ(Redact({"HELLO", "3", "AUTH", "alice", "hunter2", "SETNAME", "app"}),
            "HELLO 3 AUTH alice * SETNAME app");
  EXPECT_EQ(Redact({"MIGRATE", "h", "6379", "", "0", "5000", "AUTH", "pw", "KEYS", "a", "b"}),
            "MIGRATE h 6379  0 5000 AUTH * KEYS a b");
  EXPECT_EQ(Redact({"MIGRATE", "h", "6379", "k", "0", "5000", "AUTH2", "bob", "pw"}),
            "MIGRATE h 6379 k 0 5000 AUTH2 bob *");
  EXPECT_EQ(Redact({"CONFIG", "SET", "maxmemory", "1gb", "requirepass", "pw", "masterauth", "pw2"}),
            "CONFIG SET maxmemory 1gb requirepass * masterauth *");
  EXPECT_EQ(Redact({"ACL", "SETUSER", "bob", "on", ">pw", "<old", "#abc", "!def", "~*", "+@all"}),
            "ACL SETUSER bob on * * * * ~* +@all");
  EXPECT_EQ(Redact({"SET", "AUTH", "x"}), "SET AUTH x");
  EXPECT_EQ(Redact({"GET", "requirepass"}), "GET requirepass");
}

TEST(RedactionTest, RepliesCarryingPasswords) {
  Message req = Array({"CONFIG", "GET", "*pass*"});
  Message reply = Array({"requirepass", "hunter2", "masterauth", "", "maxmemory", "0"});
  MarkSecrets(req, &reply);
  EXPECT_EQ(Shown(reply), "requirepass * masterauth * maxmemory 0");
}

}  // namespace
}  // namespace resptrace
