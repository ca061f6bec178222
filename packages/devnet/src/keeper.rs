//! The wasm keeper: code upload, instantiation, execution, migration and admin changes, the
//! dispatch of contract messages with submessages and replies, queries, and the bank — after
//! wasmd's `x/wasm/keeper` (keeper.go, msg_dispatcher.go, handler_plugin.go, query_plugins.go).

use std::sync::Arc;

use cosmrs::proto::cosmwasm::wasm::v1 as wasmpb;
use cosmrs::proto::prost::Message;
use cosmwasm_std::{
    Addr, BankMsg, BankQuery, Binary, Checksum, Coin, ContractResult, CosmosMsg, Env, Event,
    MessageInfo, MsgResponse, Reply, ReplyOn, Response, SubMsg, SubMsgResponse, SubMsgResult,
    SystemError, SystemResult, TransactionInfo, Uint128, WasmMsg, WasmQuery,
};
use cosmwasm_vm::{
    call_execute_raw, call_ibc_channel_close_raw, call_ibc_channel_connect_raw,
    call_ibc_channel_open_raw, call_ibc_packet_ack_raw, call_ibc_packet_receive_raw,
    call_ibc_packet_timeout_raw, call_ibc_source_callback_raw, call_instantiate_raw,
    call_migrate_raw, call_query_raw, call_reply_raw, Backend, Instance, InstanceOptions, VmError,
};
use sha2::{Digest, Sha256};

use crate::error::AbciError;
use crate::gas::{self, GAS_MULTIPLIER};
use crate::state::{self, key, prefix, Account, CodeInfo, ContractInfo, Shared};
use crate::vm::{ContractStorage, DevApi, DevQuerier, WasmCache};

/// The largest VM gas limit handed to an instance (wasmd caps it the same way via the meter).
const MAX_VM_GAS: u64 = u64::MAX / 2;

/// What one message did: its events, its data and its `msg_responses` entry.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub events: Vec<Event>,
    pub data: Option<Binary>,
    pub msg_responses: Vec<MsgResponse>,
}

#[derive(Clone)]
pub struct Engine {
    pub ctx: Shared,
    pub cache: Arc<WasmCache>,
    pub api: DevApi,
}

enum Entry<'a> {
    Instantiate(&'a MessageInfo),
    Execute(&'a MessageInfo),
    Migrate,
    Reply(&'a Reply),
}

impl Engine {
    fn env(&self, contract: &str) -> Vec<u8> {
        let ctx = state::lock(&self.ctx);
        let env = Env {
            block: ctx.block.clone(),
            transaction: ctx.tx_index.map(|index| TransactionInfo { index }),
            contract: cosmwasm_std::ContractInfo {
                address: Addr::unchecked(contract),
            },
        };
        serde_json::to_vec(&env).unwrap_or_default()
    }

    pub(crate) fn with_ctx<T>(&self, f: impl FnOnce(&mut state::Ctx) -> T) -> T {
        f(&mut state::lock(&self.ctx))
    }

    pub fn canonical(&self, human: &str) -> Result<Vec<u8>, AbciError> {
        self.api
            .validate(human)
            .map_err(|e| AbciError::invalid_address(format!("{human}: {e}")))
    }

    pub fn code_info(&self, code_id: u64) -> Result<CodeInfo, AbciError> {
        self.with_ctx(|c| c.load(&key(prefix::CODE, &[&code_id.to_be_bytes()])))?
            .ok_or_else(|| AbciError::not_found(format!("code id {code_id}")))
    }

    pub fn contract_info(&self, contract: &str) -> Result<ContractInfo, AbciError> {
        let canonical = self.canonical(contract)?;
        self.with_ctx(|c| c.load(&key(prefix::CONTRACT, &[&canonical])))?
            .ok_or_else(|| AbciError::not_found(format!("no such contract: {contract}")))
    }

    pub(crate) fn is_pinned(&self, code_id: u64) -> Result<bool, AbciError> {
        Ok(self.with_ctx(|c| c.has(&key(prefix::PINNED, &[&code_id.to_be_bytes()])))?)
    }

    fn checksum(info: &CodeInfo) -> Result<Checksum, AbciError> {
        Checksum::from_hex(&info.checksum).map_err(|e| AbciError::internal(e.to_string()))
    }

    /// An instance of `code` on `contract`'s storage, with the gas left on the meter.
    fn instance(
        &self,
        code: &CodeInfo,
        contract: &str,
    ) -> Result<Instance<DevApi, ContractStorage, DevQuerier>, AbciError> {
        let canonical = self.canonical(contract)?;
        let remaining = self.with_ctx(|c| c.meter.remaining());
        let backend = Backend {
            api: self.api.clone(),
            storage: ContractStorage::new(self.ctx.clone(), &canonical),
            querier: DevQuerier {
                engine: self.clone(),
            },
        };
        self.cache
            .get_instance(
                &Self::checksum(code)?,
                backend,
                InstanceOptions {
                    gas_limit: remaining.saturating_mul(GAS_MULTIPLIER).min(MAX_VM_GAS),
                },
            )
            .map_err(|e| AbciError::vm_error(e.to_string()))
    }

    /// Loads an instance with the gas left on the meter, runs `entry`, and charges the VM's
    /// own gas to the meter, as wasmd's `consumeRuntimeGas` does.
    fn call(
        &self,
        code: &CodeInfo,
        contract: &str,
        entry: Entry<'_>,
        msg: &[u8],
    ) -> Result<Result<Response, String>, AbciError> {
        let mut instance = self.instance(code, contract)?;
        let env = self.env(contract);
        let raw = match entry {
            Entry::Instantiate(info) => {
                call_instantiate_raw(&mut instance, &env, &to_json(info), msg)
            }
            Entry::Execute(info) => call_execute_raw(&mut instance, &env, &to_json(info), msg),
            Entry::Migrate => call_migrate_raw(&mut instance, &env, msg),
            Entry::Reply(reply) => call_reply_raw(&mut instance, &env, &to_json(reply)),
        };
        self.charge_vm(&mut instance, &raw)?;
        let raw = raw.map_err(|e| AbciError::vm_error(e.to_string()))?;
        self.with_ctx(|c| {
            c.meter
                .consume(gas::DESERIALIZATION_COST_PER_BYTE * raw.len() as u64)
        })?;
        let result: ContractResult<Response> = serde_json::from_slice(&raw)
            .map_err(|e| AbciError::vm_error(format!("invalid contract result: {e}")))?;
        Ok(result.into_result())
    }

    /// Calls one of a contract's IBC entry points (wasmd's `x/wasm/keeper/relay.go`): the
    /// setup cost, the VM's gas, and the result's JSON back (`entry` is the export's name).
    pub(crate) fn call_ibc(
        &self,
        contract: &str,
        entry: &str,
        msg: &[u8],
    ) -> Result<Vec<u8>, AbciError> {
        let record = self.contract_info(contract)?;
        let code = self.code_info(record.code_id)?;
        let pinned = self.is_pinned(record.code_id)?;
        self.with_ctx(|c| c.meter.consume(gas::setup_contract_cost(pinned)))?;
        let mut instance = self.instance(&code, contract)?;
        let env = self.env(contract);
        let raw = match entry {
            "ibc_channel_open" => call_ibc_channel_open_raw(&mut instance, &env, msg),
            "ibc_channel_connect" => call_ibc_channel_connect_raw(&mut instance, &env, msg),
            "ibc_channel_close" => call_ibc_channel_close_raw(&mut instance, &env, msg),
            "ibc_packet_receive" => call_ibc_packet_receive_raw(&mut instance, &env, msg),
            "ibc_packet_ack" => call_ibc_packet_ack_raw(&mut instance, &env, msg),
            "ibc_packet_timeout" => call_ibc_packet_timeout_raw(&mut instance, &env, msg),
            "ibc_source_callback" => call_ibc_source_callback_raw(&mut instance, &env, msg),
            other => return Err(AbciError::internal(format!("no IBC entry point {other}"))),
        };
        self.charge_vm(&mut instance, &raw)?;
        let raw = raw.map_err(|e| AbciError::vm_error(e.to_string()))?;
        self.with_ctx(|c| {
            c.meter
                .consume(gas::DESERIALIZATION_COST_PER_BYTE * raw.len() as u64)
        })?;
        Ok(raw)
    }

    fn charge_vm<T>(
        &self,
        instance: &mut Instance<DevApi, ContractStorage, DevQuerier>,
        result: &Result<T, VmError>,
    ) -> Result<(), AbciError> {
        let report = instance.create_gas_report();
        self.with_ctx(|c| {
            if matches!(result, Err(VmError::GasDepletion { .. })) {
                // The VM used everything it was given: the meter overflows, as in wasmd.
                let _ = c.meter.consume(c.meter.remaining().saturating_add(1));
                return Err(crate::gas::OutOfGas);
            }
            crate::state::trace("vm", b"", 0, report.used_internally / GAS_MULTIPLIER);
            c.meter.consume(report.used_internally / GAS_MULTIPLIER)
        })?;
        Ok(())
    }

    // ---------------------------------------------------------------- code and contracts

    pub fn store_code(&self, creator: &str, wasm: &[u8]) -> Result<Outcome, AbciError> {
        self.canonical(creator)?;
        if wasm.is_empty() {
            return Err(AbciError::empty("wasm code"));
        }
        self.with_ctx(|c| {
            c.meter
                .consume(gas::COMPILE_COST_PER_BYTE * wasm.len() as u64)
        })?;
        let checksum = self
            .cache
            .store_code(wasm, true, true)
            .map_err(|e| AbciError::create_failed(format!("Error calling the VM: {e}")))?;
        let code_id = self.with_ctx(|c| c.next_sequence(b"lastCodeId"))?;
        let info = CodeInfo {
            code_id,
            creator: creator.to_string(),
            checksum: checksum.to_hex(),
        };
        self.with_ctx(|c| c.save(&key(prefix::CODE, &[&code_id.to_be_bytes()]), &info))?;
        let response = wasmpb::MsgStoreCodeResponse {
            code_id,
            checksum: checksum.as_slice().to_vec(),
        };
        Ok(Outcome {
            events: vec![Event::new("store_code")
                .add_attribute("code_checksum", checksum.to_hex())
                .add_attribute("code_id", code_id.to_string())],
            data: Some(response.encode_to_vec().into()),
            msg_responses: vec![msg_response(
                "/cosmwasm.wasm.v1.MsgStoreCodeResponse",
                &response,
            )],
        })
    }

    /// Pins code in the VM's memory cache (wasmd's `PinCodes` governance proposal): calls into
    /// it then cost the discounted instance cost.
    pub fn pin(&self, code_id: u64) -> Result<(), AbciError> {
        let info = self.code_info(code_id)?;
        self.cache
            .pin(&Self::checksum(&info)?)
            .map_err(|e| AbciError::vm_error(e.to_string()))?;
        self.with_ctx(|c| {
            c.store
                .set(&key(prefix::PINNED, &[&code_id.to_be_bytes()]), b"\x01")
        });
        Ok(())
    }

    /// Unpins code (wasmd's `MsgUnpinCodes`).
    pub fn unpin(&self, code_id: u64) -> Result<(), AbciError> {
        let info = self.code_info(code_id)?;
        self.cache
            .unpin(&Self::checksum(&info)?)
            .map_err(|e| AbciError::vm_error(e.to_string()))?;
        self.with_ctx(|c| {
            c.store
                .remove(&key(prefix::PINNED, &[&code_id.to_be_bytes()]))
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn instantiate(
        &self,
        sender: &str,
        admin: Option<&str>,
        code_id: u64,
        label: &str,
        msg: &[u8],
        funds: &[Coin],
        salt: Option<(&[u8], bool)>,
    ) -> Result<Outcome, AbciError> {
        let creator = self.canonical(sender)?;
        if let Some(admin) = admin {
            self.canonical(admin)?;
        }
        if label.trim().is_empty() {
            return Err(AbciError::empty("label"));
        }
        if label.len() > 128 {
            return Err(AbciError::limit("label"));
        }
        let pinned = self.is_pinned(code_id)?;
        self.with_ctx(|c| c.meter.consume(gas::setup_contract_cost(pinned)))?;
        let code = self.code_info(code_id)?;
        let address = match salt {
            None => {
                let instance_id = self.with_ctx(|c| c.next_sequence(b"lastContractId"))?;
                let mut k = code_id.to_be_bytes().to_vec();
                k.extend_from_slice(&instance_id.to_be_bytes());
                module_address("wasm", &k)
            }
            Some((salt, fix_msg)) => {
                if salt.is_empty() || salt.len() > 64 {
                    return Err(AbciError::invalid("salt must be 1 to 64 bytes"));
                }
                let checksum = Self::checksum(&code)?;
                let msg_part: &[u8] = if fix_msg { msg } else { &[] };
                predictable_address(checksum.as_slice(), &creator, salt, msg_part)
            }
        };
        let contract = self.api.humanize(&address).map_err(AbciError::internal)?;
        if self.with_ctx(|c| c.has(&key(prefix::CONTRACT, &[&address])))? {
            return Err(AbciError::duplicate(format!(
                "instance with this code id, sender and label exists: {contract}"
            )));
        }
        self.ensure_account(&contract)?;
        let mut events = vec![];
        if !funds.is_empty() {
            events.extend(self.bank_send(sender, &contract, funds)?);
        }
        let info = MessageInfo {
            sender: Addr::unchecked(sender),
            funds: funds.to_vec(),
        };
        let response = self
            .call(&code, &contract, Entry::Instantiate(&info), msg)?
            .map_err(AbciError::instantiate_failed)?;
        let record = ContractInfo {
            code_id,
            creator: sender.to_string(),
            admin: admin.map(str::to_string),
            label: label.to_string(),
            created_height: self.with_ctx(|c| c.block.height),
        };
        self.with_ctx(|c| -> Result<(), AbciError> {
            c.save(&key(prefix::CONTRACT, &[&address]), &record)?;
            c.set(
                &key(
                    prefix::CONTRACT_BY_CODE,
                    &[&code_id.to_be_bytes(), &address],
                ),
                &[],
            )?;
            Ok(())
        })?;
        events.push(
            Event::new("instantiate")
                .add_attribute("_contract_address", &contract)
                .add_attribute("code_id", code_id.to_string()),
        );
        let (more, data) = self
            .handle_response(&contract, response)
            .map_err(|e| e.wrap("dispatch"))?;
        events.extend(more);
        let reply = wasmpb::MsgInstantiateContractResponse {
            address: contract.clone(),
            data: data.clone().map(|d| d.to_vec()).unwrap_or_default(),
        };
        let type_url = if salt.is_some() {
            "/cosmwasm.wasm.v1.MsgInstantiateContract2Response"
        } else {
            "/cosmwasm.wasm.v1.MsgInstantiateContractResponse"
        };
        Ok(Outcome {
            events,
            data: Some(reply.encode_to_vec().into()),
            msg_responses: vec![msg_response(type_url, &reply)],
        })
    }

    pub fn execute(
        &self,
        sender: &str,
        contract: &str,
        msg: &[u8],
        funds: &[Coin],
    ) -> Result<Outcome, AbciError> {
        self.canonical(sender)?;
        let record = self.contract_info(contract)?;
        let code = self.code_info(record.code_id)?;
        let pinned = self.is_pinned(record.code_id)?;
        self.with_ctx(|c| c.meter.consume(gas::setup_contract_cost(pinned)))?;
        let mut events = vec![];
        if !funds.is_empty() {
            events.extend(self.bank_send(sender, contract, funds)?);
        }
        let info = MessageInfo {
            sender: Addr::unchecked(sender),
            funds: funds.to_vec(),
        };
        let response = self
            .call(&code, contract, Entry::Execute(&info), msg)?
            .map_err(AbciError::execute_failed)?;
        events.push(Event::new("execute").add_attribute("_contract_address", contract));
        let (more, data) = self
            .handle_response(contract, response)
            .map_err(|e| e.wrap("dispatch"))?;
        events.extend(more);
        let reply = wasmpb::MsgExecuteContractResponse {
            data: data.clone().map(|d| d.to_vec()).unwrap_or_default(),
        };
        Ok(Outcome {
            events,
            data: Some(reply.encode_to_vec().into()),
            msg_responses: vec![msg_response(
                "/cosmwasm.wasm.v1.MsgExecuteContractResponse",
                &reply,
            )],
        })
    }

    pub fn migrate(
        &self,
        sender: &str,
        contract: &str,
        new_code_id: u64,
        msg: &[u8],
    ) -> Result<Outcome, AbciError> {
        let mut record = self.contract_info(contract)?;
        if record.admin.as_deref() != Some(sender) {
            return Err(AbciError::unauthorized("can not migrate"));
        }
        let code = self.code_info(new_code_id)?;
        let pinned = self.is_pinned(new_code_id)?;
        self.with_ctx(|c| c.meter.consume(gas::setup_contract_cost(pinned)))?;
        let response = self
            .call(&code, contract, Entry::Migrate, msg)?
            .map_err(AbciError::migration_failed)?;
        let canonical = self.canonical(contract)?;
        let old_code = record.code_id;
        record.code_id = new_code_id;
        self.with_ctx(|c| -> Result<(), AbciError> {
            c.delete(&key(
                prefix::CONTRACT_BY_CODE,
                &[&old_code.to_be_bytes(), &canonical],
            ))?;
            c.set(
                &key(
                    prefix::CONTRACT_BY_CODE,
                    &[&new_code_id.to_be_bytes(), &canonical],
                ),
                &[],
            )?;
            c.save(&key(prefix::CONTRACT, &[&canonical]), &record)?;
            Ok(())
        })?;
        let mut events = vec![Event::new("migrate")
            .add_attribute("code_id", new_code_id.to_string())
            .add_attribute("_contract_address", contract)];
        let (more, data) = self
            .handle_response(contract, response)
            .map_err(|e| e.wrap("dispatch"))?;
        events.extend(more);
        let reply = wasmpb::MsgMigrateContractResponse {
            data: data.map(|d| d.to_vec()).unwrap_or_default(),
        };
        Ok(Outcome {
            events,
            data: Some(reply.encode_to_vec().into()),
            msg_responses: vec![msg_response(
                "/cosmwasm.wasm.v1.MsgMigrateContractResponse",
                &reply,
            )],
        })
    }

    pub fn set_admin(
        &self,
        sender: &str,
        contract: &str,
        new_admin: Option<&str>,
    ) -> Result<Outcome, AbciError> {
        if let Some(a) = new_admin {
            self.canonical(a)?;
        }
        let mut record = self.contract_info(contract)?;
        if record.admin.as_deref() != Some(sender) {
            return Err(AbciError::unauthorized("can not modify contract"));
        }
        record.admin = new_admin.map(str::to_string);
        let canonical = self.canonical(contract)?;
        self.with_ctx(|c| c.save(&key(prefix::CONTRACT, &[&canonical]), &record))?;
        let event = match new_admin {
            Some(a) => Event::new("update_contract_admin")
                .add_attribute("_contract_address", contract)
                .add_attribute("new_admin_address", a),
            None => Event::new("update_contract_admin")
                .add_attribute("_contract_address", contract)
                .add_attribute("new_admin_address", ""),
        };
        let (type_url, value) = match new_admin {
            Some(_) => (
                "/cosmwasm.wasm.v1.MsgUpdateAdminResponse",
                wasmpb::MsgUpdateAdminResponse {}.encode_to_vec(),
            ),
            None => (
                "/cosmwasm.wasm.v1.MsgClearAdminResponse",
                wasmpb::MsgClearAdminResponse {}.encode_to_vec(),
            ),
        };
        Ok(Outcome {
            events: vec![event],
            data: Some(value.clone().into()),
            msg_responses: vec![MsgResponse {
                type_url: type_url.into(),
                value: value.into(),
            }],
        })
    }

    // ---------------------------------------------------------------- responses

    /// wasmd's `handleContractResponse`: charge and emit the contract's events, then dispatch
    /// its submessages; a reply's data replaces the contract's.
    pub(crate) fn handle_response(
        &self,
        contract: &str,
        response: Response,
    ) -> Result<(Vec<Event>, Option<Binary>), AbciError> {
        let attrs: Vec<(usize, usize)> = response
            .attributes
            .iter()
            .map(|a| (a.key.len(), a.value.len()))
            .collect();
        let custom: Vec<(usize, Vec<(usize, usize)>)> = response
            .events
            .iter()
            .map(|e| {
                (
                    e.ty.len(),
                    e.attributes
                        .iter()
                        .map(|a| (a.key.len(), a.value.len()))
                        .collect(),
                )
            })
            .collect();
        self.with_ctx(|c| c.meter.consume(gas::event_costs(&attrs, &custom)))?;
        let mut events = vec![];
        if !response.attributes.is_empty() {
            let mut wasm = Event::new("wasm").add_attribute("_contract_address", contract);
            for a in &response.attributes {
                check_attribute(&a.key, &a.value)?;
                wasm = wasm.add_attribute(a.key.trim(), a.value.trim());
            }
            events.push(wasm);
        }
        for e in &response.events {
            let ty = e.ty.trim();
            if ty.len() < 2 {
                return Err(AbciError::invalid_event(format!(
                    "Event type too short: '{ty}'"
                )));
            }
            let mut custom =
                Event::new(format!("wasm-{ty}")).add_attribute("_contract_address", contract);
            for a in &e.attributes {
                check_attribute(&a.key, &a.value)?;
                custom = custom.add_attribute(a.key.trim(), a.value.trim());
            }
            events.push(custom);
        }
        let (more, reply_data) = self
            .dispatch_submessages(contract, response.messages)
            .map_err(|e| e.wrap("submessages"))?;
        events.extend(more);
        Ok((events, reply_data.or(response.data)))
    }

    /// wasmd's `DispatchSubmessages`: each submessage in its own cache context, committed on
    /// success; failures abort the transaction unless the contract asked for a reply on error.
    fn dispatch_submessages(
        &self,
        contract: &str,
        msgs: Vec<SubMsg>,
    ) -> Result<(Vec<Event>, Option<Binary>), AbciError> {
        let mut events = vec![];
        let mut data = None;
        for sub in msgs {
            let gas_before = self.with_ctx(|c| c.meter.consumed);
            // A gas limit on the submessage runs it under its own, smaller meter.
            let outer = self.with_ctx(|c| {
                let outer = c.meter;
                if let Some(limit) = sub.gas_limit {
                    if limit < c.meter.remaining() {
                        c.meter = crate::gas::GasMeter::new(limit);
                    }
                }
                c.store.begin();
                outer
            });
            let limited = sub.gas_limit.is_some_and(|l| l < outer.remaining());
            let result = self.dispatch(contract, sub.msg);
            let sub_used = self.with_ctx(|c| {
                let used = if limited {
                    c.meter.consumed.min(c.meter.limit)
                } else {
                    c.meter.consumed.saturating_sub(gas_before)
                };
                if limited {
                    c.meter = outer;
                    let _ = c.meter.consume(used);
                }
                used
            });
            self.with_ctx(|c| match &result {
                Ok(_) => c.store.commit(),
                Err(_) => {
                    c.store.rollback();
                    Default::default()
                }
            });
            // Out of gas under the transaction's own meter cannot be caught by a reply.
            if self.with_ctx(|c| c.meter.consumed > c.meter.limit) {
                return Err(crate::gas::OutOfGas.into());
            }
            let reply_result = match (result, sub.reply_on) {
                (Ok(o), ReplyOn::Never | ReplyOn::Error) => {
                    events.extend(filter_events(o.events));
                    continue;
                }
                (Err(e), ReplyOn::Never | ReplyOn::Success) => return Err(e),
                (Ok(o), _) => {
                    let filtered = filter_events(o.events);
                    events.extend(filtered.clone());
                    #[allow(deprecated)]
                    SubMsgResult::Ok(SubMsgResponse {
                        events: filtered,
                        data: o.data,
                        msg_responses: o.msg_responses,
                    })
                }
                (Err(e), _) => SubMsgResult::Err(e.redacted()),
            };
            let reply = Reply {
                id: sub.id,
                payload: sub.payload,
                gas_used: sub_used,
                result: reply_result,
            };
            let (reply_events, reply_data) = self.reply(contract, &reply)?;
            events.extend(reply_events);
            if reply_data.is_some() {
                data = reply_data;
            }
        }
        Ok((events, data))
    }

    fn reply(
        &self,
        contract: &str,
        reply: &Reply,
    ) -> Result<(Vec<Event>, Option<Binary>), AbciError> {
        let record = self.contract_info(contract)?;
        let code = self.code_info(record.code_id)?;
        // Replies always get the discount: the contract was just loaded (wasmd `ReplyCosts`).
        let mut cost = gas::setup_contract_cost(true);
        if let SubMsgResult::Ok(ok) = &reply.result {
            let attrs: Vec<(usize, usize)> = ok
                .events
                .iter()
                .flat_map(|e| e.attributes.iter().map(|a| (a.key.len(), a.value.len())))
                .collect();
            cost += ok.events.iter().map(|e| e.ty.len() as u64).sum::<u64>()
                * gas::EVENT_ATTRIBUTE_DATA_COST
                + gas::event_costs(&attrs, &[]);
        }
        self.with_ctx(|c| c.meter.consume(cost))?;
        let response = self
            .call(&code, contract, Entry::Reply(reply), &[])?
            .map_err(AbciError::execute_failed)?;
        let mut events = vec![Event::new("reply").add_attribute("_contract_address", contract)];
        let (more, data) = self.handle_response(contract, response)?;
        events.extend(more);
        Ok((events, data))
    }

    /// Routes one contract message (wasmd's message handler chain).
    pub fn dispatch(&self, contract: &str, msg: CosmosMsg) -> Result<Outcome, AbciError> {
        match msg {
            CosmosMsg::Bank(BankMsg::Send { to_address, amount }) => {
                let amount = sanitize(amount);
                if amount.is_empty() {
                    return Err(AbciError::invalid_coins(""));
                }
                let events = self.bank_send(contract, &to_address, &amount)?;
                Ok(Outcome {
                    events,
                    data: None,
                    msg_responses: vec![MsgResponse {
                        type_url: "/cosmos.bank.v1beta1.MsgSendResponse".into(),
                        value: Binary::default(),
                    }],
                })
            }
            CosmosMsg::Bank(BankMsg::Burn { amount }) => {
                let events = self.bank_burn(contract, &sanitize(amount))?;
                Ok(Outcome {
                    events,
                    ..Outcome::default()
                })
            }
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr,
                msg,
                funds,
            }) => self.execute(contract, &contract_addr, &msg, &sanitize(funds)),
            CosmosMsg::Wasm(WasmMsg::Instantiate {
                admin,
                code_id,
                msg,
                funds,
                label,
            }) => self.instantiate(
                contract,
                admin.as_deref(),
                code_id,
                &label,
                &msg,
                &sanitize(funds),
                None,
            ),
            CosmosMsg::Wasm(WasmMsg::Instantiate2 {
                admin,
                code_id,
                label,
                msg,
                funds,
                salt,
            }) => self.instantiate(
                contract,
                admin.as_deref(),
                code_id,
                &label,
                &msg,
                &sanitize(funds),
                Some((&salt, false)),
            ),
            CosmosMsg::Wasm(WasmMsg::Migrate {
                contract_addr,
                new_code_id,
                msg,
            }) => self.migrate(contract, &contract_addr, new_code_id, &msg),
            CosmosMsg::Wasm(WasmMsg::UpdateAdmin {
                contract_addr,
                admin,
            }) => self.set_admin(contract, &contract_addr, Some(&admin)),
            CosmosMsg::Wasm(WasmMsg::ClearAdmin { contract_addr }) => {
                self.set_admin(contract, &contract_addr, None)
            }
            CosmosMsg::Ibc(msg) => self.dispatch_ibc(contract, msg),
            other => Err(AbciError::unknown_msg(format!(
                "the devnet does not route {}",
                msg_kind(&other)
            ))),
        }
    }

    // ---------------------------------------------------------------- bank and accounts

    pub fn ensure_account(&self, address: &str) -> Result<Account, AbciError> {
        let canonical = self.canonical(address)?;
        let k = key(prefix::ACCOUNT, &[&canonical]);
        if let Some(a) = self.with_ctx(|c| c.load_account(&k))? {
            return Ok(a);
        }
        self.new_account(address, &k)
    }

    /// The bank's `SendCoins` step for the recipient: its account is created if missing, found
    /// with a `has` as the SDK's `HasAccount` does (not a read of the account).
    fn create_account_if_missing(&self, address: &str) -> Result<(), AbciError> {
        let canonical = self.canonical(address)?;
        let k = key(prefix::ACCOUNT, &[&canonical]);
        if !self.with_ctx(|c| c.has(&k))? {
            self.new_account(address, &k)?;
        }
        Ok(())
    }

    fn new_account(&self, address: &str, k: &[u8]) -> Result<Account, AbciError> {
        let number = self.with_ctx(|c| c.next_sequence(b"accountNumber"))? - 1;
        let account = Account {
            address: address.to_string(),
            account_number: number,
            sequence: 0,
            pub_key: None,
        };
        self.with_ctx(|c| c.save_account(k, &account))?;
        Ok(account)
    }

    fn balance_key(canonical: &[u8], denom: &str) -> Vec<u8> {
        key(
            prefix::BALANCE,
            &[&[canonical.len() as u8], canonical, denom.as_bytes()],
        )
    }

    pub fn balance(&self, address: &str, denom: &str) -> Result<Uint128, AbciError> {
        let canonical = self.canonical(address)?;
        let raw = self.with_ctx(|c| c.get(&Self::balance_key(&canonical, denom)))?;
        Ok(raw
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or_default())
    }

    pub(crate) fn set_balance(
        &self,
        address: &str,
        denom: &str,
        amount: Uint128,
    ) -> Result<(), AbciError> {
        let canonical = self.canonical(address)?;
        let k = Self::balance_key(&canonical, denom);
        self.with_ctx(|c| {
            if amount.is_zero() {
                c.delete(&k)
            } else {
                c.set(&k, amount.to_string().as_bytes())
            }
        })?;
        Ok(())
    }

    pub fn all_balances(&self, address: &str) -> Result<Vec<Coin>, AbciError> {
        let canonical = self.canonical(address)?;
        let (entries, _) = state::lock(&self.ctx).store.prefix_page(
            &Self::balance_key(&canonical, ""),
            &[],
            usize::MAX,
        );
        let out = entries
            .into_iter()
            .map(|(denom, amount)| Coin {
                denom: String::from_utf8_lossy(&denom).into_owned(),
                amount: String::from_utf8_lossy(&amount).parse().unwrap_or_default(),
            })
            .collect();
        Ok(out)
    }

    /// Moves coins as the bank keeper's `SendCoins` does, creating the recipient's account.
    pub fn bank_send(&self, from: &str, to: &str, coins: &[Coin]) -> Result<Vec<Event>, AbciError> {
        self.canonical(from)?;
        self.canonical(to)?;
        for coin in coins {
            let have = self.balance(from, &coin.denom)?;
            let Some(left) = have.checked_sub(coin.amount).ok() else {
                return Err(AbciError::insufficient_funds(format!(
                    "spendable balance {have}{} is smaller than {}{}",
                    coin.denom, coin.amount, coin.denom
                )));
            };
            self.set_balance(from, &coin.denom, left)?;
            let theirs = self.balance(to, &coin.denom)?;
            self.set_balance(to, &coin.denom, theirs + coin.amount)?;
        }
        self.create_account_if_missing(to)?;
        let amount = coins_string(coins);
        Ok(vec![
            Event::new("coin_spent")
                .add_attribute("spender", from)
                .add_attribute("amount", &amount),
            Event::new("coin_received")
                .add_attribute("receiver", to)
                .add_attribute("amount", &amount),
            Event::new("transfer")
                .add_attribute("recipient", to)
                .add_attribute("sender", from)
                .add_attribute("amount", &amount),
            Event::new("message").add_attribute("sender", from),
        ])
    }

    pub(crate) fn bank_burn(&self, from: &str, coins: &[Coin]) -> Result<Vec<Event>, AbciError> {
        for coin in coins {
            let have = self.balance(from, &coin.denom)?;
            let left = have.checked_sub(coin.amount).map_err(|_| {
                AbciError::insufficient_funds(format!(
                    "spendable balance {have}{} is smaller than {}{}",
                    coin.denom, coin.amount, coin.denom
                ))
            })?;
            self.set_balance(from, &coin.denom, left)?;
            self.add_supply(&coin.denom, coin.amount, false)?;
        }
        Ok(vec![Event::new("burn")
            .add_attribute("burner", from)
            .add_attribute("amount", coins_string(coins))])
    }

    /// Genesis and faucet minting.
    pub fn mint(&self, to: &str, coins: &[Coin]) -> Result<(), AbciError> {
        self.ensure_account(to)?;
        for coin in coins {
            let have = self.balance(to, &coin.denom)?;
            self.set_balance(to, &coin.denom, have + coin.amount)?;
            self.add_supply(&coin.denom, coin.amount, true)?;
        }
        Ok(())
    }

    fn add_supply(&self, denom: &str, amount: Uint128, up: bool) -> Result<(), AbciError> {
        let k = key(prefix::SUPPLY, &[denom.as_bytes()]);
        let current: Uint128 = self
            .with_ctx(|c| c.load::<Uint128>(&k))?
            .unwrap_or_default();
        let next = if up {
            current + amount
        } else {
            current.saturating_sub(amount)
        };
        self.with_ctx(|c| c.save(&k, &next))
    }

    pub fn supply(&self, denom: &str) -> Result<Uint128, AbciError> {
        let k = key(prefix::SUPPLY, &[denom.as_bytes()]);
        Ok(self
            .with_ctx(|c| c.load::<Uint128>(&k))?
            .unwrap_or_default())
    }

    // ---------------------------------------------------------------- queries

    /// A contract query (wasmd's `QuerySmart`), metered on the current meter.
    pub fn query_smart(&self, contract: &str, msg: &[u8]) -> Result<Binary, AbciError> {
        let record = self.contract_info(contract)?;
        let code = self.code_info(record.code_id)?;
        let pinned = self.is_pinned(record.code_id)?;
        self.with_ctx(|c| c.meter.consume(gas::setup_contract_cost(pinned)))?;
        let mut instance = self.instance(&code, contract)?;
        instance.set_storage_readonly(true);
        let env = self.env(contract);
        let raw = call_query_raw(&mut instance, &env, msg);
        self.charge_vm(&mut instance, &raw)?;
        let raw = raw.map_err(|e| AbciError::vm_error(e.to_string()))?;
        let result: ContractResult<Binary> = serde_json::from_slice(&raw)
            .map_err(|e| AbciError::vm_error(format!("invalid query result: {e}")))?;
        result.into_result().map_err(AbciError::query_failed)
    }

    pub fn query_raw(
        &self,
        contract: &str,
        key_bytes: &[u8],
    ) -> Result<Option<Vec<u8>>, AbciError> {
        let canonical = self.canonical(contract)?;
        let k = key(prefix::CONTRACT_STORE, &[&canonical, key_bytes]);
        Ok(self.with_ctx(|c| c.get(&k))?)
    }

    /// A query from a contract (wasmd's query plugins), under a gas limit in SDK gas.
    pub fn query(
        &self,
        request: &cosmwasm_std::QueryRequest,
        gas_limit: u64,
    ) -> Result<SystemResult<ContractResult<Binary>>, AbciError> {
        use cosmwasm_std::QueryRequest as Q;
        // Run under a sub-meter capped at the limit the VM passed down.
        let outer = self.with_ctx(|c| {
            let outer = c.meter;
            c.meter = crate::gas::GasMeter::new(gas_limit.min(outer.remaining()));
            outer
        });
        let result = (|| -> Result<SystemResult<ContractResult<Binary>>, AbciError> {
            let ok = |b: Binary| Ok(SystemResult::Ok(ContractResult::Ok(b)));
            match request {
                Q::Bank(BankQuery::Balance { address, denom }) => {
                    let amount = self.balance(address, denom)?;
                    ok(to_json(&cosmwasm_std::BalanceResponse::new(Coin {
                        denom: denom.clone(),
                        amount,
                    }))
                    .into())
                }
                #[allow(deprecated)]
                Q::Bank(BankQuery::AllBalances { address }) => {
                    let amount = self.all_balances(address)?;
                    ok(to_json(&cosmwasm_std::AllBalanceResponse::new(amount)).into())
                }
                Q::Bank(BankQuery::Supply { denom }) => {
                    let amount = self.supply(denom)?;
                    ok(to_json(&cosmwasm_std::SupplyResponse::new(Coin {
                        denom: denom.clone(),
                        amount,
                    }))
                    .into())
                }
                Q::Wasm(WasmQuery::Smart { contract_addr, msg }) => {
                    ok(self.query_smart(contract_addr, msg)?)
                }
                Q::Wasm(WasmQuery::Raw { contract_addr, key }) => {
                    let value = self.query_raw(contract_addr, key)?;
                    ok(value.unwrap_or_default().into())
                }
                Q::Wasm(WasmQuery::ContractInfo { contract_addr }) => {
                    let info = self.contract_info(contract_addr)?;
                    let pinned = self.is_pinned(info.code_id)?;
                    let mut response = cosmwasm_std::ContractInfoResponse::new(
                        info.code_id,
                        Addr::unchecked(info.creator),
                        info.admin.map(Addr::unchecked),
                        pinned,
                        None,
                    );
                    response.pinned = pinned;
                    ok(to_json(&response).into())
                }
                Q::Wasm(WasmQuery::CodeInfo { code_id }) => {
                    let info = self.code_info(*code_id)?;
                    let checksum = Self::checksum(&info)?;
                    let response = cosmwasm_std::CodeInfoResponse::new(
                        info.code_id,
                        Addr::unchecked(info.creator),
                        checksum,
                    );
                    ok(to_json(&response).into())
                }
                other => Ok(SystemResult::Err(SystemError::UnsupportedRequest {
                    kind: query_kind(other).into(),
                })),
            }
        })();
        self.with_ctx(|c| {
            let used = c.meter.consumed;
            c.meter = outer;
            c.meter.consume(used)
        })?;
        result
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn msg_response<M: Message>(type_url: &str, m: &M) -> MsgResponse {
    MsgResponse {
        type_url: type_url.into(),
        value: m.encode_to_vec().into(),
    }
}

/// wasmd drops the `message` events of submessages.
fn filter_events(events: Vec<Event>) -> Vec<Event> {
    events.into_iter().filter(|e| e.ty != "message").collect()
}

fn check_attribute(key: &str, value: &str) -> Result<(), AbciError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(AbciError::invalid_event(format!(
            "Empty attribute key. Value: {value}"
        )));
    }
    if key.starts_with('_') {
        return Err(AbciError::invalid_event(format!(
            "Attribute key starts with reserved prefix _: '{key}'"
        )));
    }
    Ok(())
}

/// Zero coins are dropped and equal denoms merged, as wasmd's coin conversion does.
fn sanitize(coins: Vec<Coin>) -> Vec<Coin> {
    let mut out: Vec<Coin> = vec![];
    for c in coins.into_iter().filter(|c| !c.amount.is_zero()) {
        match out.iter_mut().find(|o| o.denom == c.denom) {
            Some(o) => o.amount += c.amount,
            None => out.push(c),
        }
    }
    out.sort_by(|a, b| a.denom.cmp(&b.denom));
    out
}

pub fn coins_string(coins: &[Coin]) -> String {
    coins
        .iter()
        .map(|c| format!("{}{}", c.amount, c.denom))
        .collect::<Vec<_>>()
        .join(",")
}

fn msg_kind(msg: &CosmosMsg) -> &'static str {
    match msg {
        CosmosMsg::Bank(_) => "this bank message",
        CosmosMsg::Custom(_) => "custom messages",
        CosmosMsg::Wasm(_) => "this wasm message",
        CosmosMsg::Any(_) => "protobuf Any messages",
        _ => "this message",
    }
}

fn query_kind(q: &cosmwasm_std::QueryRequest) -> &'static str {
    use cosmwasm_std::QueryRequest as Q;
    match q {
        Q::Bank(_) => "bank",
        Q::Custom(_) => "custom",
        Q::Wasm(_) => "wasm",
        Q::Grpc(_) => "grpc",
        _ => "other",
    }
}

/// The SDK's `address.Hash`: sha256(sha256(type) ‖ key).
pub(crate) fn address_hash(typ: &str, key: &[u8]) -> [u8; 32] {
    let th = Sha256::digest(typ.as_bytes());
    let mut h = Sha256::new();
    h.update(th);
    h.update(key);
    h.finalize().into()
}

/// The SDK's `address.Module(name, key)`.
pub fn module_address(name: &str, key: &[u8]) -> Vec<u8> {
    let mut k = name.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(key);
    address_hash("module", &k).to_vec()
}

/// wasmd's `BuildContractAddressPredictable` (instantiate2).
pub fn predictable_address(checksum: &[u8], creator: &[u8], salt: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = b"wasm\0".to_vec();
    for part in [checksum, creator, salt, msg] {
        k.extend_from_slice(&(part.len() as u64).to_be_bytes());
        k.extend_from_slice(part);
    }
    // `address.Module("wasm", key)` with the module name already in the key.
    address_hash("module", &k).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instantiate2_matches_cosmwasm_std() {
        let checksum = [7u8; 32];
        let creator = [9u8; 20];
        let salt = b"kumo";
        let ours = predictable_address(&checksum, &creator, salt, &[]);
        let theirs =
            cosmwasm_std::instantiate2_address(&checksum, &creator.to_vec().into(), salt).unwrap();
        assert_eq!(ours, theirs.as_slice());
    }

    #[test]
    fn sanitize_drops_zero_and_merges() {
        let coins = vec![
            Coin::new(0u128, "a"),
            Coin::new(2u128, "b"),
            Coin::new(3u128, "a"),
            Coin::new(1u128, "b"),
        ];
        assert_eq!(
            sanitize(coins),
            vec![Coin::new(3u128, "a"), Coin::new(3u128, "b")]
        );
    }
}
