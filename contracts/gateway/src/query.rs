use cosmwasm_std::{Binary, Coin, Deps, Order};
use kumo::gateway::{
    ChannelResponse, ChannelsResponse, ConfigResponse, CreditsResponse, QueryMsg,
    RemoteDeploymentResponse, RemoteDeploymentsResponse,
};
use kumo::json::to_binary;

use crate::error::ContractError;
use crate::state::{
    account, CHANNELS, CONFIG, CREDITS, DEFAULT_LIMIT, DEPLOYMENTS, MAX_LIMIT, OWNER_DEPLOYMENTS,
};

fn limit(limit: Option<u32>) -> usize {
    limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize
}

pub fn dispatch(deps: Deps, msg: QueryMsg) -> Result<Binary, ContractError> {
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_binary(&ConfigResponse {
                owner: c.owner,
                market: c.market,
                escrow: c.escrow,
                transfer_channel: c.transfer_channel,
                allowed: c.allowed,
                refund_timeout: c.refund_timeout,
            })
        }
        QueryMsg::Channel { channel_id } => to_binary(&ChannelResponse {
            channel: CHANNELS.load(deps.storage, &channel_id)?,
        }),
        QueryMsg::Channels {
            start_after,
            limit: l,
        } => {
            let channels = CHANNELS
                .range(deps.storage, start_after.as_deref(), Order::Ascending)
                .take(limit(l))
                .map(|r| r.map(|(_, c)| c))
                .collect::<kumo::Result<_>>()?;
            to_binary(&ChannelsResponse { channels })
        }
        QueryMsg::Credits {
            channel,
            sender,
            start_after,
            limit: l,
        } => {
            let acct = account(&CHANNELS.load(deps.storage, &channel)?, &sender);
            let credits = CREDITS
                .prefix_range(
                    deps.storage,
                    &acct,
                    start_after.as_deref(),
                    Order::Ascending,
                )
                .take(limit(l))
                .map(|r| r.map(|(denom, amount)| Coin::new(amount, denom)))
                .collect::<kumo::Result<_>>()?;
            to_binary(&CreditsResponse { credits })
        }
        QueryMsg::Deployments {
            channel,
            sender,
            start_after,
            limit: l,
        } => {
            let acct = account(&CHANNELS.load(deps.storage, &channel)?, &sender);
            let deployments = OWNER_DEPLOYMENTS
                .prefix_range(deps.storage, &acct, start_after, Order::Ascending)
                .take(limit(l))
                .map(|r| DEPLOYMENTS.load(deps.storage, r?.0))
                .collect::<kumo::Result<_>>()?;
            to_binary(&RemoteDeploymentsResponse { deployments })
        }
        QueryMsg::Deployment { dseq } => to_binary(&RemoteDeploymentResponse {
            deployment: DEPLOYMENTS.load(deps.storage, dseq)?,
        }),
    }
}
