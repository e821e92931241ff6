//! The response context of a forked request (RFC 3261 §16.7): which branch responses go
//! upstream, which branches to cancel, and the best final response once every branch has
//! one.
//!
//! Owns: the per-branch state and the choice. Must not: send, build or parse messages (the
//! proxy does, from the [`Verdict`]s this returns).

use smallvec::SmallVec;

/// One branch of the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Branch {
    /// No final response yet.
    Pending,
    /// The branch ended with this status (a response, or 408 for a timeout, 503 for a
    /// transport error, as §16.7 step 1 and §16.8 / §16.9 say).
    Final(u16),
}

/// What to do with one response received on a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it upstream now: a provisional other than 100, or a 2xx (§16.7 steps 5, 6).
    Forward,
    /// Keep it: a 100, or a final that is not (yet) the one to send.
    Absorb,
    /// Forward it now and cancel every pending branch: the first 2xx, or a 6xx (§16.7 step
    /// 10, §16.7 step 5 for 6xx when the request was an INVITE).
    ForwardAndCancelOthers,
    /// Every branch is final and none was forwarded: send the best response, which came on
    /// branch `best` with this status (§16.7 step 6).
    SendBest { best: usize, status: u16 },
}

/// The context: one entry per branch, in the order the branches were created.
#[derive(Debug, Clone)]
pub struct ResponseContext {
    branches: SmallVec<[Branch; 4]>,
    /// A final response has gone upstream (a 2xx or a 6xx, or the best one): no other final
    /// but a 2xx may follow it (§16.7 step 10).
    final_sent: bool,
    /// A 6xx arrived: no more branches may be added (§16.7 step 5 note).
    closed: bool,
}

impl Default for ResponseContext {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseContext {
    pub fn new() -> Self {
        ResponseContext {
            branches: SmallVec::new(),
            final_sent: false,
            closed: false,
        }
    }

    /// Adds a branch (a fork target); returns its index, or `None` once a 6xx or a 2xx has
    /// been forwarded and no new branch may start (serial forking stops there).
    pub fn add_branch(&mut self) -> Option<usize> {
        if self.closed || self.final_sent {
            return None;
        }
        self.branches.push(Branch::Pending);
        Some(self.branches.len() - 1)
    }

    pub fn branches(&self) -> usize {
        self.branches.len()
    }

    /// Branches without a final response.
    pub fn pending(&self) -> impl Iterator<Item = usize> + '_ {
        self.branches
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == Branch::Pending)
            .map(|(i, _)| i)
    }

    /// Whether a final response has gone upstream.
    pub fn final_sent(&self) -> bool {
        self.final_sent
    }

    /// A response with `status` arrived on `branch` (or the branch ended: 408 for Timer B/F
    /// or Timer C without a final, 503 for a transport error). `more_to_try` says whether the
    /// proxy still has targets it would start if every current branch failed (serial
    /// forking): then the best response waits.
    pub fn response(&mut self, branch: usize, status: u16, more_to_try: bool) -> Verdict {
        let Some(slot) = self.branches.get_mut(branch) else {
            return Verdict::Absorb;
        };
        if status < 200 {
            return match status {
                100 => Verdict::Absorb,
                _ if self.final_sent => Verdict::Absorb,
                _ => Verdict::Forward,
            };
        }
        // A branch that already has a final only passes on further 2xx (the 2xx
        // retransmissions and forks of an INVITE go upstream, §16.7 step 5).
        if *slot != Branch::Pending {
            return if (200..300).contains(&status) {
                Verdict::Forward
            } else {
                Verdict::Absorb
            };
        }
        *slot = Branch::Final(status);
        if (200..300).contains(&status) {
            let first = !self.final_sent;
            self.final_sent = true;
            return if first {
                Verdict::ForwardAndCancelOthers
            } else {
                Verdict::Forward
            };
        }
        if self.final_sent {
            return Verdict::Absorb;
        }
        if status >= 600 {
            self.closed = true;
            self.final_sent = true;
            return Verdict::ForwardAndCancelOthers;
        }
        if self.pending().next().is_some() || more_to_try {
            return Verdict::Absorb;
        }
        match self.best() {
            Some((best, status)) => {
                self.final_sent = true;
                Verdict::SendBest { best, status }
            }
            None => Verdict::Absorb,
        }
    }

    /// The proxy has no more targets to try (serial forking ran out, or the caller
    /// cancelled): with every branch final and nothing sent yet, the best response goes up
    /// now (§16.7 step 6). `None` while a branch is pending or once a final has gone up.
    pub fn conclude(&mut self) -> Option<Verdict> {
        if self.final_sent || self.pending().next().is_some() {
            return None;
        }
        let (best, status) = self.best()?;
        self.final_sent = true;
        Some(Verdict::SendBest { best, status })
    }

    /// With every branch final, the best response: a 6xx if any; else the lowest class among
    /// 3xx, 4xx and 5xx, preferring within 4xx the responses a client can act on (401, 407,
    /// 415, 420, 484, as §16.7 step 6 suggests) over the others, and the first of its kind
    /// otherwise. `None` with no branch at all.
    pub fn best(&self) -> Option<(usize, u16)> {
        let finals = self
            .branches
            .iter()
            .enumerate()
            .filter_map(|(i, b)| match b {
                Branch::Final(s) => Some((i, *s)),
                Branch::Pending => None,
            });
        finals.min_by_key(|(i, s)| (rank(*s), *i))
    }
}

/// Lower ranks win. 6xx first, then by class, then the 4xx a client can act on.
fn rank(status: u16) -> (u8, u8) {
    let class = (status / 100) as u8;
    let class_rank = match class {
        6 => 0,
        2 => 1,
        3 => 2,
        4 => 3,
        5 => 4,
        _ => 5,
    };
    let within = match status {
        401 | 407 | 415 | 420 | 484 => 0,
        // A 408 made up for a silent branch is the least informative 4xx.
        408 => 2,
        _ => 1,
    };
    (class_rank, within)
}

/// The status the proxy sends upstream for a best response (§16.7 step 6: a 503 becomes
/// 500, since the proxy itself is not overloaded).
pub fn upstream_status(best: u16) -> u16 {
    if best == 503 {
        500
    } else {
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(n: usize) -> ResponseContext {
        let mut c = ResponseContext::new();
        for _ in 0..n {
            c.add_branch().unwrap();
        }
        c
    }

    #[test]
    fn provisionals_go_up_except_100() {
        let mut c = ctx(2);
        assert_eq!(c.response(0, 100, false), Verdict::Absorb);
        assert_eq!(c.response(0, 180, false), Verdict::Forward);
        assert_eq!(c.response(1, 183, false), Verdict::Forward);
    }

    #[test]
    fn the_first_2xx_cancels_the_others_and_later_2xx_still_go_up() {
        let mut c = ctx(3);
        c.response(0, 180, false);
        assert_eq!(c.response(1, 200, false), Verdict::ForwardAndCancelOthers);
        assert_eq!(c.pending().collect::<Vec<_>>(), [0, 2]);
        assert_eq!(
            c.response(0, 200, false),
            Verdict::Forward,
            "every 2xx goes up"
        );
        assert_eq!(c.response(2, 487, false), Verdict::Absorb);
        assert_eq!(
            c.response(1, 200, false),
            Verdict::Forward,
            "a 2xx retransmission"
        );
        assert_eq!(c.add_branch(), None);
    }

    #[test]
    fn a_6xx_ends_the_search() {
        let mut c = ctx(2);
        assert_eq!(c.response(0, 603, false), Verdict::ForwardAndCancelOthers);
        assert_eq!(c.response(1, 486, false), Verdict::Absorb);
        assert_eq!(c.add_branch(), None);
    }

    #[test]
    fn all_failed_sends_the_best() {
        let mut c = ctx(3);
        assert_eq!(c.response(0, 486, false), Verdict::Absorb);
        assert_eq!(c.response(1, 503, false), Verdict::Absorb);
        assert_eq!(
            c.response(2, 302, false),
            Verdict::SendBest {
                best: 2,
                status: 302
            }
        );
    }

    #[test]
    fn within_4xx_actionable_wins_and_made_up_408_loses() {
        let mut c = ctx(3);
        c.response(0, 408, false);
        c.response(1, 404, false);
        assert_eq!(
            c.response(2, 407, false),
            Verdict::SendBest {
                best: 2,
                status: 407
            }
        );
        let mut c = ctx(2);
        c.response(0, 408, false);
        assert_eq!(
            c.response(1, 480, false),
            Verdict::SendBest {
                best: 1,
                status: 480
            }
        );
    }

    #[test]
    fn serial_forking_waits_for_the_next_target() {
        let mut c = ctx(1);
        assert_eq!(c.response(0, 486, true), Verdict::Absorb);
        let next = c.add_branch().unwrap();
        assert_eq!(
            c.response(next, 480, false),
            Verdict::SendBest {
                best: 0,
                status: 486
            },
            "two of one rank: the first"
        );
    }

    #[test]
    fn concluding_sends_the_best_of_every_group_once() {
        let mut c = ctx(1);
        assert_eq!(c.response(0, 486, true), Verdict::Absorb);
        let next = c.add_branch().unwrap();
        assert_eq!(c.conclude(), None, "a branch is pending");
        assert_eq!(c.response(next, 408, true), Verdict::Absorb);
        assert_eq!(
            c.conclude(),
            Some(Verdict::SendBest {
                best: 0,
                status: 486
            })
        );
        assert_eq!(c.conclude(), None, "sent once");
        assert_eq!(c.add_branch(), None);
        assert_eq!(ResponseContext::new().conclude(), None, "no branch at all");
    }

    #[test]
    fn a_503_goes_up_as_500() {
        assert_eq!(upstream_status(503), 500);
        assert_eq!(upstream_status(486), 486);
    }
}
