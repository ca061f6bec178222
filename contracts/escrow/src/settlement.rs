//! Settlement arithmetic (AEP-79 §6.5), pure so that it can be tested and proven on its own.
//!
//! Rounding: balances are `Decimal256` (18 decimals). Accruals are `rate × seconds`, exact for
//! rates with at most 18 decimals. Only payouts and refunds round, always down to whole base
//! units; the sub-unit remainders go to the treasury when the account closes, so every rounding
//! favours the protocol by less than one unit per payment or depositor.

use cosmwasm_std::{Decimal256, Timestamp, Uint128, Uint256};
use kumo::escrow::{Account, AccountState, Depositor, Payment, PaymentState};

use crate::error::ContractError;

pub fn dec(amount: Uint128) -> Decimal256 {
    Decimal256::new(Uint256::from(amount) * Uint256::from(10u128.pow(18)))
}

/// Whole base units of `value`, rounded down.
pub fn floor(value: Decimal256) -> Result<Uint128, ContractError> {
    Ok(Uint128::try_from(value.to_uint_floor())?)
}

/// What one settlement moved.
#[derive(Debug, Default, PartialEq)]
pub struct Settlement {
    /// Per payment, in the order given: what it accrued now.
    pub accrued: Vec<Decimal256>,
    /// Sum of `accrued`: what left the depositors.
    pub moved: Decimal256,
    /// The account could not cover what its payments accrued.
    pub overdrawn: bool,
}

/// Takes `amount` from the depositors, first in first out; drained entries are removed.
pub fn drain_fifo(depositors: &mut Vec<Depositor>, mut amount: Decimal256) {
    while !amount.is_zero() {
        let Some(first) = depositors.first_mut() else {
            return;
        };
        if first.balance > amount {
            first.balance -= amount;
            return;
        }
        amount -= first.balance;
        depositors.remove(0);
    }
}

/// Brings an account and its payments up to `now`. An open account whose balance covers the
/// accrual pays it from its depositors, first in first out. One that cannot pays everything it
/// has, shared by rate, records the shortfall as `unsettled` and becomes overdrawn.
pub fn settle(
    account: &mut Account,
    payments: &mut [Payment],
    now: Timestamp,
) -> Result<Settlement, ContractError> {
    let mut out = Settlement {
        accrued: vec![Decimal256::zero(); payments.len()],
        ..Settlement::default()
    };
    if account.state != AccountState::Open {
        return Ok(out);
    }
    let elapsed = now.seconds().saturating_sub(account.settled_at.seconds());
    account.settled_at = account.settled_at.max(now);
    if elapsed == 0 || account.rate.is_zero() {
        return Ok(out);
    }
    let seconds = Decimal256::from_ratio(elapsed, 1u64);
    let mut owed = Decimal256::zero();
    for (i, p) in payments.iter().enumerate() {
        if p.state == PaymentState::Open {
            out.accrued[i] = p.rate.checked_mul(seconds)?;
            owed = owed.checked_add(out.accrued[i])?;
        }
    }
    if owed <= account.balance {
        for (p, a) in payments.iter_mut().zip(&out.accrued) {
            p.balance = p.balance.checked_add(*a)?;
        }
        drain_fifo(&mut account.depositors, owed);
        account.balance -= owed;
        account.transferred = account.transferred.checked_add(owed)?;
        out.moved = owed;
        return Ok(out);
    }

    // Overdrawn: share what is left by rate; the last open payment takes the remainder so that
    // the shares add up to the balance exactly.
    let available = account.balance;
    let last = payments.iter().rposition(|p| p.state == PaymentState::Open);
    let mut shared = Decimal256::zero();
    for (i, p) in payments.iter_mut().enumerate() {
        if p.state != PaymentState::Open {
            continue;
        }
        let share = if Some(i) == last {
            available - shared
        } else {
            available
                .checked_mul(p.rate)?
                .checked_div(account.rate)
                .map_err(|_| cosmwasm_std::DivideByZeroError)?
                .min(available - shared)
        };
        shared += share;
        p.unsettled = p.unsettled.checked_add(out.accrued[i] - share)?;
        out.accrued[i] = share;
        p.balance = p.balance.checked_add(share)?;
        p.state = PaymentState::Overdrawn;
    }
    account.depositors.clear();
    account.balance = Decimal256::zero();
    account.transferred = account.transferred.checked_add(available)?;
    account.state = AccountState::Overdrawn;
    out.moved = available;
    out.overdrawn = true;
    Ok(out)
}

/// Deducts a settler's bounty of `bounty` whole units from what the payments just accrued, in
/// payment order.
pub fn take_bounty(
    payments: &mut [Payment],
    settlement: &Settlement,
    bounty: Uint128,
) -> Result<(), ContractError> {
    let mut left = dec(bounty);
    for (p, accrued) in payments.iter_mut().zip(&settlement.accrued) {
        if left.is_zero() {
            break;
        }
        let cut = left.min(*accrued).min(p.balance);
        p.balance -= cut;
        left -= cut;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::Addr;
    use kumo::escrow::{AccountId, DepositSource};
    use kumo::{Denom, DeploymentId};
    use proptest::prelude::*;

    use super::*;

    fn depositor(name: &str, amount: u128) -> Depositor {
        Depositor {
            owner: Addr::unchecked(name),
            source: DepositSource::Direct,
            balance: dec(Uint128::new(amount)),
        }
    }

    fn account(deposits: &[u128], rate: Decimal256) -> Account {
        let depositors: Vec<_> = deposits
            .iter()
            .enumerate()
            .map(|(i, a)| depositor(&format!("d{i}"), *a))
            .collect();
        let total: u128 = deposits.iter().sum();
        Account {
            id: AccountId::Deployment(DeploymentId::new(Addr::unchecked("t"), 1)),
            owner: Addr::unchecked("t"),
            denom: Denom::Native("ukumo".into()),
            state: AccountState::Open,
            balance: dec(Uint128::new(total)),
            rate,
            settled_at: Timestamp::from_seconds(0),
            transferred: Decimal256::zero(),
            held: Uint128::new(total),
            depositors,
        }
    }

    fn payment(rate: Decimal256) -> Payment {
        let lease = DeploymentId::new(Addr::unchecked("t"), 1)
            .group(1)
            .order(1)
            .bid(Addr::unchecked("p"));
        Payment {
            lease,
            account: AccountId::Deployment(DeploymentId::new(Addr::unchecked("t"), 1)),
            payee: Addr::unchecked("p"),
            rate,
            state: PaymentState::Open,
            balance: Decimal256::zero(),
            withdrawn: Uint128::zero(),
            unsettled: Decimal256::zero(),
        }
    }

    fn per_second(n: u128) -> Decimal256 {
        Decimal256::from_ratio(n, 1u128)
    }

    #[test]
    fn twelve_per_second_for_1000_seconds_accrues_12000_first_in_first_out() {
        let mut a = account(&[10_000, 50_000], per_second(12));
        let mut p = vec![payment(per_second(12))];
        let s = settle(&mut a, &mut p, Timestamp::from_seconds(1_000)).unwrap();
        assert_eq!(s.moved, per_second(12_000));
        assert!(!s.overdrawn);
        assert_eq!(p[0].balance, per_second(12_000));
        // The first depositor is drained and removed; the second pays the rest.
        assert_eq!(a.depositors.len(), 1);
        assert_eq!(a.depositors[0].owner, Addr::unchecked("d1"));
        assert_eq!(a.depositors[0].balance, per_second(48_000));
        assert_eq!(a.balance, per_second(48_000));
        // Settling again at the same time moves nothing.
        let again = settle(&mut a, &mut p, Timestamp::from_seconds(1_000)).unwrap();
        assert!(again.moved.is_zero());
    }

    #[test]
    fn an_account_that_cannot_pay_shares_what_it_has_by_rate() {
        let mut a = account(&[1_000], per_second(3));
        let mut p = vec![payment(per_second(1)), payment(per_second(2))];
        let s = settle(&mut a, &mut p, Timestamp::from_seconds(500)).unwrap();
        assert!(s.overdrawn);
        assert_eq!(a.state, AccountState::Overdrawn);
        assert_eq!(p[0].balance + p[1].balance, per_second(1_000));
        assert_eq!(
            p[0].balance,
            "333.333333333333333333".parse::<Decimal256>().unwrap()
        );
        // Owed 500 and 1000; got 333.33… and 666.66….
        assert_eq!(p[0].unsettled + p[1].unsettled, per_second(500));
        assert!(a.depositors.is_empty());
        assert!(p.iter().all(|p| p.state == PaymentState::Overdrawn));
    }

    #[test]
    fn the_bounty_comes_out_of_what_was_just_accrued() {
        let mut a = account(&[100_000], per_second(10));
        let mut p = vec![payment(per_second(4)), payment(per_second(6))];
        let s = settle(&mut a, &mut p, Timestamp::from_seconds(100)).unwrap();
        // 400 and 600 accrued; a bounty of 500 takes all of the first and 100 of the second.
        take_bounty(&mut p, &s, Uint128::new(500)).unwrap();
        assert_eq!(p[0].balance, Decimal256::zero());
        assert_eq!(p[1].balance, per_second(500));
    }

    proptest! {
        /// Settlement never creates or destroys value: what leaves the depositors is what the
        /// payments gain, to the last of 18 decimals.
        #[test]
        fn settlement_conserves_value(
            deposits in proptest::collection::vec(1u128..10_000_000, 1..5),
            rates in proptest::collection::vec(1u64..1_000_000_000, 1..5),
            steps in proptest::collection::vec(1u64..100_000, 1..6),
        ) {
            let rates: Vec<Decimal256> = rates
                .iter()
                .map(|r| Decimal256::from_ratio(*r, 1_000u64))
                .collect();
            let total_rate = rates.iter().fold(Decimal256::zero(), |a, r| a + *r);
            let mut a = account(&deposits, total_rate);
            let mut p: Vec<Payment> = rates.iter().map(|r| payment(*r)).collect();
            let start = a.balance;
            let mut now = 0;
            for step in steps {
                now += step;
                settle(&mut a, &mut p, Timestamp::from_seconds(now)).unwrap();
                let paid = p.iter().fold(Decimal256::zero(), |acc, p| acc + p.balance);
                let left = a.depositors.iter().fold(Decimal256::zero(), |acc, d| acc + d.balance);
                prop_assert_eq!(left, a.balance);
                prop_assert_eq!(paid + a.balance, start);
                prop_assert_eq!(a.transferred, paid);
            }
        }
    }
}
