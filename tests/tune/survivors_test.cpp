// Which candidates go on to the next round of successive halving (tune::survivors_of).
#include <gtest/gtest.h>

#include <vector>

#include "tune/tune.hpp"

namespace {

using kakuren::tune::CandidateResult;
using kakuren::tune::Outcome;
using kakuren::tune::ProjectionKind;
using kakuren::tune::survivors_of;

/// A candidate ranked as given, with its realised hidden fraction.
CandidateResult candidate(int id, double hidden, ProjectionKind kind = ProjectionKind::fitted) {
    CandidateResult c;
    c.candidate = id;
    c.realised_hidden = hidden;
    c.work.kind = kind;
    c.time.kind = kind;
    return c;
}

TEST(Survivors, NoneAlwaysAndTheBestHidingCandidates) {
    Outcome standing;
    // Best first: 3, 1, none, 2.
    standing.ranked = {candidate(3, 0.2), candidate(1, 0.3), candidate(0, 0), candidate(2, 0.1)};
    EXPECT_EQ(survivors_of(standing, {0, 1, 2, 3}, 1), (std::vector<int>{3, 0}));
    EXPECT_EQ(survivors_of(standing, {0, 1, 2, 3}, 2), (std::vector<int>{3, 1, 0}));
    // Only this round's candidates.
    EXPECT_EQ(survivors_of(standing, {0, 1, 2}, 1), (std::vector<int>{1, 0}));
}

TEST(Survivors, ACandidateThatHasHiddenNothingYetStandsWhereNoneStands) {
    // Seen on the spread DeepCAM stand-in: kakurenbo hides nothing in its first 2 epochs, so
    // its 2-point projection (3.1x none's work, from the same training as none) is noise, and
    // halving cut it; the full comparison found it the best (0.70 of the work).
    Outcome standing;
    standing.ranked = {candidate(4, 0.4), candidate(0, 0), candidate(2, 0.1), candidate(1, 0),
                       candidate(3, 0)};
    // Not started (1, 3) go before 2, which is projected worse than none; after 4, better.
    EXPECT_EQ(survivors_of(standing, {0, 1, 2, 3, 4}, 3), (std::vector<int>{4, 0, 1, 3}));
    EXPECT_EQ(survivors_of(standing, {0, 1, 2, 3, 4}, 1), (std::vector<int>{4, 0}));
    // One that reached the target is measured, started or not.
    standing.ranked = {candidate(1, 0, ProjectionKind::measured), candidate(0, 0),
                       candidate(2, 0.1)};
    EXPECT_EQ(survivors_of(standing, {0, 1, 2}, 1), (std::vector<int>{1, 0}));
}

} // namespace
