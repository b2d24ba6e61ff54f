//! The arithmetic of purchased credits, without I/O: what a grant, a refund
//! and a transfer do to a balance, its purchased part and its debt.
//!
//! Policy: free credits are spent first, so the purchased part of a balance
//! is `min(purchased, credits)`. A refund takes back what it can from the
//! balance; what it cannot (the credits were spent) is owed, and the next
//! grant pays the debt before it adds anything. A balance never goes below
//! zero.

/// The credit fields of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreditState {
    /// The balance.
    pub credits: i64,
    /// Purchased credits not yet taken back or moved (at most the balance
    /// counts as unspent).
    pub purchased: i64,
    /// Refunded credits that could not be taken back yet.
    pub owed: i64,
}

/// What one change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The state afterwards.
    pub next: CreditState,
    /// Credits added to the balance by a purchase (the ledger's `purchase` entry).
    pub added: i64,
    /// Credits taken from the balance (a refund, a debt paid, a transfer out).
    pub taken: i64,
}

impl Change {
    /// The net change of the balance.
    pub fn delta(&self) -> i64 {
        self.added - self.taken
    }
}

impl CreditState {
    /// Purchased credits still in the balance (free credits go first).
    pub fn unspent_purchased(&self) -> i64 {
        self.purchased.min(self.credits).max(0)
    }

    /// A purchase of `amount` credits: the debt is paid first, the rest added.
    pub fn grant(self, amount: i64) -> Change {
        let paid = self.owed.min(amount);
        let next = CreditState { credits: self.credits + amount - paid, purchased: self.unspent_purchased() + amount - paid, owed: self.owed - paid };
        Change { next, added: amount, taken: paid }
    }

    /// A refund of a purchase of `amount` credits: taken back from the
    /// balance as far as it goes, the rest owed.
    pub fn revoke(self, amount: i64) -> Change {
        let taken = amount.min(self.credits).max(0);
        let next = CreditState { credits: self.credits - taken, purchased: (self.unspent_purchased() - amount).max(0), owed: self.owed + amount - taken };
        Change { next, added: 0, taken }
    }

    /// The source side of a transfer: its unspent purchased credits leave.
    pub fn transfer_out(self) -> Change {
        let moved = self.unspent_purchased();
        let next = CreditState { credits: self.credits - moved, purchased: 0, owed: self.owed };
        Change { next, added: 0, taken: moved }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(credits: i64, purchased: i64, owed: i64) -> CreditState {
        CreditState { credits, purchased, owed }
    }

    #[test]
    fn a_grant_adds_its_credits() {
        let c = state(3, 0, 0).grant(10);
        assert_eq!((c.delta(), c.next), (10, state(13, 10, 0)));
    }

    #[test]
    fn a_refund_takes_back_what_is_there_and_owes_the_rest() {
        let c = state(4, 10, 0).revoke(10);
        assert_eq!((c.delta(), c.next), (-4, state(0, 0, 6)));
        let c = state(12, 10, 0).revoke(10);
        assert_eq!((c.delta(), c.next), (-10, state(2, 0, 0)));
    }

    #[test]
    fn the_next_grant_pays_the_debt_first() {
        let c = state(0, 0, 6).grant(5);
        assert_eq!((c.delta(), c.next), (0, state(0, 0, 1)));
        let c = state(0, 0, 1).grant(10);
        assert_eq!((c.delta(), c.next), (9, state(9, 9, 0)));
    }

    #[test]
    fn free_credits_are_spent_first() {
        // 3 free + 10 bought, 5 spent: 8 left, all of them purchased.
        let s = state(8, 10, 0);
        assert_eq!(s.unspent_purchased(), 8);
        let c = s.transfer_out();
        assert_eq!((c.taken, c.next), (8, state(0, 0, 0)));
        // 3 free + 10 bought, nothing spent: the 3 free stay.
        assert_eq!(state(13, 10, 0).transfer_out().next, state(3, 0, 0));
    }

    #[test]
    fn a_balance_never_goes_below_zero() {
        for credits in 0..5 {
            for amount in 0..8 {
                assert!(state(credits, credits, 0).revoke(amount).next.credits >= 0);
                assert!(state(credits, 0, amount).grant(amount).next.credits >= credits);
            }
        }
    }
}
