use cosmwasm_std::{to_json_binary, Binary, Coin, Deps, Order, StdResult};
use cw_storage_plus::Bound;
use kumo::gateway::{
    ChannelResponse, ChannelsResponse, ConfigResponse, CreditsResponse, QueryMsg,
    RemoteDeploymentResponse, RemoteDeploymentsResponse,
};

use crate::state::{
    account, CHANNELS, CONFIG, CREDITS, DEFAULT_LIMIT, DEPLOYMENTS, MAX_LIMIT, OWNER_DEPLOYMENTS,
};

fn limit(limit: Option<u32>) -> usize {
    limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize
}

pub fn dispatch(deps: Deps, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => {
            let c = CONFIG.load(deps.storage)?;
            to_json_binary(&ConfigResponse {
                owner: c.owner,
                market: c.market,
                escrow: c.escrow,
                transfer_channel: c.transfer_channel,
                allowed: c.allowed,
                refund_timeout: c.refund_timeout,
            })
        }
        QueryMsg::Channel { channel_id } => to_json_binary(&ChannelResponse {
            channel: CHANNELS.load(deps.storage, &channel_id)?,
        }),
        QueryMsg::Channels {
            start_after,
            limit: l,
        } => {
            let start = start_after.as_deref().map(Bound::exclusive);
            let channels = CHANNELS
                .range(deps.storage, start, None, Order::Ascending)
                .take(limit(l))
                .map(|r| r.map(|(_, c)| c))
                .collect::<StdResult<_>>()?;
            to_json_binary(&ChannelsResponse { channels })
        }
        QueryMsg::Credits {
            channel,
            sender,
            start_after,
            limit: l,
        } => {
            let acct = account(&CHANNELS.load(deps.storage, &channel)?, &sender);
            let start = start_after.as_deref().map(Bound::exclusive);
            let credits = CREDITS
                .prefix(&acct)
                .range(deps.storage, start, None, Order::Ascending)
                .take(limit(l))
                .map(|r| r.map(|(denom, amount)| Coin::new(amount, denom)))
                .collect::<StdResult<_>>()?;
            to_json_binary(&CreditsResponse { credits })
        }
        QueryMsg::Deployments {
            channel,
            sender,
            start_after,
            limit: l,
        } => {
            let acct = account(&CHANNELS.load(deps.storage, &channel)?, &sender);
            let start = start_after.map(Bound::exclusive);
            let deployments = OWNER_DEPLOYMENTS
                .prefix(&acct)
                .keys(deps.storage, start, None, Order::Ascending)
                .take(limit(l))
                .map(|dseq| DEPLOYMENTS.load(deps.storage, dseq?))
                .collect::<StdResult<_>>()?;
            to_json_binary(&RemoteDeploymentsResponse { deployments })
        }
        QueryMsg::Deployment { dseq } => to_json_binary(&RemoteDeploymentResponse {
            deployment: DEPLOYMENTS.load(deps.storage, dseq)?,
        }),
    }
}
