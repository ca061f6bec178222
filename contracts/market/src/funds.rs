//! What a message brought: native coins in `info.funds`, or a CW20 `Send` through `Receive`.

use cosmwasm_std::{Addr, BankMsg, Coin, CosmosMsg, MessageInfo, Uint128, WasmMsg};
use kumo::escrow;
use kumo::json::{cw20_send, cw20_transfer, write};
use kumo::Denom;

use crate::error::ContractError;

/// Funds that arrived with a message, and who sent them.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub sender: Addr,
    pub denom: Denom,
    pub amount: Uint128,
}

impl Incoming {
    /// Exactly one native coin with a positive amount.
    pub fn native(info: &MessageInfo) -> Result<Self, ContractError> {
        let coin = cw_utils::one_coin(info)?;
        Ok(Incoming {
            sender: info.sender.clone(),
            denom: Denom::Native(coin.denom),
            amount: coin.amount,
        })
    }

    /// Forwards these funds to the escrow with `msg` (a CW20 `Send` carrying the escrow's
    /// `ReceiveMsg` for tokens, the message itself with coins attached for native denoms).
    pub fn forward(
        &self,
        escrow_addr: &Addr,
        native: &escrow::MarketCall,
        cw20: &escrow::ReceiveMsg,
    ) -> CosmosMsg {
        match &self.denom {
            Denom::Native(denom) => WasmMsg::Execute {
                contract_addr: escrow_addr.to_string(),
                msg: write(native),
                funds: vec![Coin::new(self.amount, denom.clone())],
            }
            .into(),
            Denom::Cw20(token) => WasmMsg::Execute {
                contract_addr: token.to_string(),
                msg: cw20_send(escrow_addr, self.amount, write(cw20)),
                funds: vec![],
            }
            .into(),
        }
    }
}

/// A transfer out of the market (a bid deposit going back to its provider).
pub fn send(denom: &Denom, to: &Addr, amount: Uint128) -> CosmosMsg {
    match denom {
        Denom::Native(d) => BankMsg::Send {
            to_address: to.to_string(),
            amount: vec![Coin::new(amount, d.clone())],
        }
        .into(),
        Denom::Cw20(token) => WasmMsg::Execute {
            contract_addr: token.to_string(),
            msg: cw20_transfer(to, amount),
            funds: vec![],
        }
        .into(),
    }
}

/// A message to the escrow that carries no funds.
pub fn escrow_call(escrow_addr: &Addr, msg: &escrow::MarketCall) -> CosmosMsg {
    WasmMsg::Execute {
        contract_addr: escrow_addr.to_string(),
        msg: write(msg),
        funds: vec![],
    }
    .into()
}
