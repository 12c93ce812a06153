// SPDX-License-Identifier: Apache-2.0
// Link owns what it holds: a bare fd is closed exactly once, when the last
// owner goes, and a move hands it over. (A pipe stands in for a link fd:
// no root, and the kernel says whether the number is still open.)
#include "collect/link.hpp"

#include <array>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace kernspan::collect {
namespace {

bool is_open(int fd) {
  return fcntl(fd, F_GETFD) != -1;
}

TEST(Link, ClosesItsFdWhenDestroyed) {
  std::array<int, 2> p{};
  ASSERT_EQ(pipe(p.data()), 0);
  {
    const Link l = Link::of_fd(p[0]);
    EXPECT_TRUE(l.is_fd());
    EXPECT_EQ(l.fd(), p[0]);
    EXPECT_TRUE(is_open(p[0]));
  }
  EXPECT_FALSE(is_open(p[0]));
  close(p[1]);
}

TEST(Link, MoveHandsOverOwnership) {
  std::array<int, 2> p{};
  ASSERT_EQ(pipe(p.data()), 0);
  Link a = Link::of_fd(p[0]);
  Link b = std::move(a);
  EXPECT_TRUE(a.empty()); // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(b.fd(), p[0]);
  std::vector<Link> links;
  links.push_back(std::move(b));
  links.reserve(64); // reallocation moves, never closes
  EXPECT_TRUE(is_open(p[0]));
  links.clear();
  EXPECT_FALSE(is_open(p[0]));
  close(p[1]);
}

TEST(Link, AssigningReleasesTheOldFd) {
  std::array<int, 2> p{};
  std::array<int, 2> q{};
  ASSERT_EQ(pipe(p.data()), 0);
  ASSERT_EQ(pipe(q.data()), 0);
  Link l = Link::of_fd(p[0]);
  l = Link::of_fd(q[0]);
  EXPECT_FALSE(is_open(p[0]));
  EXPECT_TRUE(is_open(q[0]));
  l.reset();
  EXPECT_FALSE(is_open(q[0]));
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.fd(), -1);
  close(p[1]);
  close(q[1]);
}

TEST(Link, EmptyFromAFailedAttach) {
  EXPECT_TRUE(Link::of(nullptr).empty());
  EXPECT_TRUE(Link::of_fd(-22).empty()); // -EINVAL from a failed bpf()
}

} // namespace
} // namespace kernspan::collect
