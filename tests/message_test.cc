#include "resptrace/message.h"

#include <string>

#include "gtest/gtest.h"

namespace resptrace {
namespace {

ScalarPiece Piece(RespType t, std::string_view data, bool first = true, bool last = true,
                  int64_t declared = -1) {
  ScalarPiece p{t, data};
  p.first = first;
  p.last = last;
  p.declared_len = declared >= 0 ? declared : static_cast<int64_t>(data.size());
  return p;
}

TEST(MessageBuilderTest, BuildsNestedValuesInPreorder) {
  Message m;
  MessageBuilder b(MessageLimits{});
  b.Begin(&m, 5, false);
  b.Aggregate(RespType::kArray, 3);
  b.Scalar(Piece(RespType::kBulkString, "a"));
  b.Aggregate(RespType::kMap, 2);
  b.Scalar(Piece(RespType::kSimpleString, "k"));
  b.Scalar(Piece(RespType::kInteger, "7"));
  EXPECT_FALSE(b.complete());
  b.Scalar(Piece(RespType::kNull, ""));
  EXPECT_TRUE(b.complete());
  const ValueNode* root = m.root();
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->type, RespType::kArray);
  EXPECT_EQ(root->children, 3u);
  EXPECT_EQ(root->subtree, 6u);
  const ValueNode* a = Message::first_child(root);
  EXPECT_EQ(m.data(*a), "a");
  const ValueNode* map = Message::next_sibling(a);
  EXPECT_EQ(map->type, RespType::kMap);
  EXPECT_EQ(map->subtree, 3u);
  EXPECT_EQ(m.data(*Message::first_child(map)), "k");
  EXPECT_EQ(Message::next_sibling(map)->type, RespType::kNull);
  EXPECT_EQ(m.first_ts_ns, 5);
}

TEST(MessageBuilderTest, JoinsPiecesAndCutsLongValues) {
  MessageLimits limits;
  limits.max_value_bytes = 4;
  Message m;
  MessageBuilder b(limits);
  b.Begin(&m, 0, false);
  b.Scalar(Piece(RespType::kBulkString, "ab", true, false, 10));
  b.Scalar(Piece(RespType::kBulkString, "cdefgh", false, false, 10));
  b.Scalar(Piece(RespType::kBulkString, "ij", false, true, 10));
  ASSERT_TRUE(b.complete());
  EXPECT_EQ(m.data(*m.root()), "abcd");
  EXPECT_TRUE(m.root()->truncated);
  EXPECT_EQ(m.root()->full_len, 10u);
}

TEST(MessageBuilderTest, KeepsOnlyTheBytesBeforeAGap) {
  Message m;
  MessageBuilder b(MessageLimits{});
  b.Begin(&m, 0, false);
  b.Scalar(Piece(RespType::kBulkString, "abc", true, false, 10));
  ScalarPiece gap = Piece(RespType::kBulkString, "", false, false, 10);
  gap.missing = 5;
  b.Scalar(gap);
  b.Scalar(Piece(RespType::kBulkString, "ij", false, true, 10));
  ASSERT_TRUE(b.complete());
  EXPECT_EQ(m.data(*m.root()), "abc");
  EXPECT_EQ(m.root()->missing, 5u);
  EXPECT_TRUE(m.root()->truncated);
}

TEST(MessageBuilderTest, CountsElementsPastTheLimit) {
  MessageLimits limits;
  limits.max_elements = 2;
  Message m;
  MessageBuilder b(limits);
  b.Begin(&m, 0, false);
  b.Aggregate(RespType::kArray, 4);
  b.Scalar(Piece(RespType::kInteger, "1"));
  b.Scalar(Piece(RespType::kInteger, "2"));
  b.Aggregate(RespType::kArray, 2);  // elided, with its children
  b.Scalar(Piece(RespType::kInteger, "3"));
  b.Scalar(Piece(RespType::kInteger, "4"));
  b.Scalar(Piece(RespType::kInteger, "5"));
  ASSERT_TRUE(b.complete());
  EXPECT_EQ(m.root()->children, 2u);
  EXPECT_EQ(m.root()->elided, 2u);
  EXPECT_EQ(m.nodes().size(), 3u);
}

TEST(MessageBuilderTest, AttributesAreNotPartOfTheValue) {
  Message m;
  MessageBuilder b(MessageLimits{});
  b.Begin(&m, 0, false);
  b.Aggregate(RespType::kAttribute, 2);  // top-level attribute, then the real value
  b.Scalar(Piece(RespType::kSimpleString, "ttl"));
  b.Scalar(Piece(RespType::kInteger, "3"));
  EXPECT_FALSE(b.complete());
  b.Aggregate(RespType::kArray, 2);
  b.Scalar(Piece(RespType::kInteger, "1"));
  b.Aggregate(RespType::kAttribute, 2);  // inside the array: not an element
  b.Scalar(Piece(RespType::kSimpleString, "x"));
  b.Scalar(Piece(RespType::kSimpleString, "y"));
  b.Scalar(Piece(RespType::kInteger, "2"));
  ASSERT_TRUE(b.complete());
  EXPECT_EQ(m.root()->type, RespType::kArray);
  EXPECT_EQ(m.root()->children, 2u);
  EXPECT_EQ(m.nodes().size(), 3u);
}

TEST(MessageBuilderTest, ReusingAMessageStartsClean) {
  Message m;
  MessageBuilder b(MessageLimits{});
  b.Begin(&m, 0, true);
  b.Scalar(Piece(RespType::kSimpleString, "first"));
  b.Begin(&m, 9, false);
  b.Scalar(Piece(RespType::kSimpleString, "x"));
  EXPECT_EQ(m.nodes().size(), 1u);
  EXPECT_EQ(m.data(*m.root()), "x");
  EXPECT_FALSE(m.inline_command);
  EXPECT_EQ(m.first_ts_ns, 9);
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

TEST(MessageBuilderTest, WithoutValuesKeepsOnlyTheTopLevelType) {
  MessageLimits limits;
  limits.keep_values = false;
  Message m;
  MessageBuilder b(limits);
  b.Begin(&m, 0, false);
  b.Aggregate(RespType::kArray, 2);
  b.Scalar(Piece(RespType::kBulkString, "GE", true, false, 3));
  b.Scalar(Piece(RespType::kBulkString, "T", false, true, 3));
  b.Scalar(Piece(RespType::kBulkString, "key"));
  EXPECT_TRUE(m.nodes().empty());
  EXPECT_EQ(m.kept_bytes(), 0u);
  EXPECT_EQ(m.root_type(), RespType::kArray);
}

TEST(MessageBuilderTest, WithoutValuesATopLevelAttributeDoesNotHideThePush) {
  MessageLimits limits;
  limits.keep_values = false;
  Message m;
  MessageBuilder b(limits);
  b.Begin(&m, 0, false);
  b.Aggregate(RespType::kAttribute, 2);  // an attribute is not the value
  b.Scalar(Piece(RespType::kSimpleString, "ttl"));
  b.Scalar(Piece(RespType::kInteger, "3"));
  b.Aggregate(RespType::kPush, 2);
  b.Scalar(Piece(RespType::kBulkString, "message"));
  b.Scalar(Piece(RespType::kBulkString, "x"));
  EXPECT_TRUE(b.complete());
  EXPECT_EQ(m.root_type(), RespType::kPush);
}

}  // namespace
}  // namespace resptrace
