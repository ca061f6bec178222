//! Wasm exports without serde: what `cosmwasm_std::entry_point` generates, with the VM's JSON
//! read and written by `crate::json` instead of `serde-json-wasm`.
//!
//! Why: the derived (de)serializers of `Env`, `MessageInfo`, `Response`, `QueryRequest` and the
//! query results, and `serde-json-wasm` itself, were over 70 KB of each contract's wasm; the
//! contracts must stay under 300 KiB. A contract opts in with [`exports!`]; the Rust entry
//! points it exports are the same functions its tests and `cw-multi-test` call.
//!
//! The memory protocol is the VM's (interface version 8): each argument is a `Region` that
//! `cosmwasm_std`'s exported `allocate` made, which the export takes ownership of; the result
//! is returned as a new `Region` the VM frees with `deallocate`. `cosmwasm_std` still provides
//! `allocate`, `deallocate`, `interface_version_8` and the storage, API and query imports.

use cosmwasm_std::{Addr, Api, CustomQuery, QuerierWrapper, Storage};

use crate::error::{Error, Result};

/// `Api::addr_validate` with an [`Error`]. In the wasm it calls the VM's `addr_validate` import
/// itself: no `StdError`, and a contract exported with `api: unused` (see [`exports!`]) needs
/// no `Api` at all. Elsewhere (unit tests, `cw-multi-test`) `api` validates.
pub fn addr_validate(api: &dyn Api, input: &str) -> Result<Addr> {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = api;
        wasm::vm_validate(input)
    }
    #[cfg(not(target_arch = "wasm32"))]
    api.addr_validate(input)
        .map_err(|e| Error::Address(e.to_string()))
}

/// `Api::addr_humanize` with an [`Error`], through the VM's import in the wasm as
/// [`addr_validate`].
pub fn addr_humanize(api: &dyn Api, canonical: &[u8]) -> Result<Addr> {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = api;
        wasm::vm_humanize(canonical)
    }
    #[cfg(not(target_arch = "wasm32"))]
    api.addr_humanize(&cosmwasm_std::CanonicalAddr::from(canonical))
        .map_err(|e| Error::Address(e.to_string()))
}

#[cfg(target_arch = "wasm32")]
pub use wasm::*;

/// A bank balance query's answer (`BankQuery::Balance`).
struct Balance {
    amount: cosmwasm_std::Coin,
}

crate::json_struct!(Balance { amount });

/// `QuerierWrapper::query_balance` without serde: `address`'s balance of `denom`.
pub fn query_balance<Q: CustomQuery>(
    querier: &QuerierWrapper<Q>,
    address: &str,
    denom: &str,
) -> Result<cosmwasm_std::Uint128> {
    let request = crate::json::vm::balance_request(address, denom);
    let data = crate::json::vm::answer(querier.raw_query(&request), "balance query of ", address)?;
    let balance: Balance = crate::json::FromJson::parse(&data)?;
    Ok(balance.amount.amount)
}

/// A raw read of another contract's storage (`None`: the key is not set), without serde: the
/// request written and the result read by `crate::json`.
pub fn raw_query<Q: CustomQuery>(
    querier: &QuerierWrapper<Q>,
    contract: Addr,
    key: &[u8],
) -> Result<Option<Vec<u8>>> {
    let request = crate::json::vm::raw_query_request(contract.as_str(), key);
    let value = crate::json::vm::answer(
        querier.raw_query(&request),
        "raw query of ",
        contract.as_str(),
    )?;
    Ok((!value.is_empty()).then(|| value.into()))
}

/// What `cw2` stores under `contract_info`: the contract's name and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractVersion {
    pub contract: String,
    pub version: String,
}

crate::json_struct!(ContractVersion { contract, version });

const CONTRACT_INFO: &[u8] = b"contract_info";

/// `cw2::set_contract_version`, the same bytes under the same key, through `crate::json`.
pub fn set_contract_version(storage: &mut dyn Storage, contract: &str, version: &str) {
    let mut out = Vec::new();
    crate::json::ToJson::write_json(
        &crate::json::Obj(&[("contract", &contract), ("version", &version)]),
        &mut out,
    );
    storage.set(CONTRACT_INFO, &out);
}

/// `cw2::get_contract_version`, through `crate::json`.
pub fn get_contract_version(storage: &dyn Storage) -> Result<ContractVersion> {
    let bytes = storage
        .get(CONTRACT_INFO)
        .ok_or(Error::NotFound("contract_info"))?;
    crate::json::FromJson::parse(&bytes)
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    pub use cosmwasm_std::ExternalApi;
    use cosmwasm_std::{
        Addr, Api, Binary, CanonicalAddr, Deps, DepsMut, Env, ExternalStorage, MessageInfo,
        QuerierWrapper, RecoverPubkeyError, Response, StdResult, VerificationError,
    };

    use crate::error::Error;
    use crate::json::{vm, FromJson};

    /// The VM's view of a byte buffer in the contract's memory (`cosmwasm_std`'s `Region`).
    #[repr(C)]
    struct Region {
        offset: u32,
        capacity: u32,
        length: u32,
    }

    impl Region {
        /// A region the VM only reads (the bytes stay ours).
        fn borrowed(bytes: &[u8]) -> Region {
            Region {
                offset: bytes.as_ptr() as u32,
                capacity: bytes.len() as u32,
                length: bytes.len() as u32,
            }
        }
    }

    extern "C" {
        fn abort(source_ptr: u32);
        fn query_chain(request: u32) -> u32;
        #[link_name = "addr_validate"]
        fn vm_addr_validate(source_ptr: u32) -> u32;
        #[link_name = "addr_humanize"]
        fn vm_addr_humanize(source_ptr: u32, destination_ptr: u32) -> u32;
    }

    /// [`super::addr_humanize`] in the wasm: `ExternalApi::addr_humanize`'s steps and messages.
    pub fn vm_humanize(canonical: &[u8]) -> crate::error::Result<Addr> {
        let source = Region::borrowed(canonical);
        // The VM writes at most this many bytes (cosmwasm-std's HUMAN_ADDRESS_BUFFER_LENGTH).
        let mut human = vec![0u8; 90];
        let mut destination = Region {
            offset: human.as_mut_ptr() as u32,
            capacity: human.len() as u32,
            length: 0,
        };
        let result = unsafe {
            vm_addr_humanize(
                &source as *const Region as u32,
                &mut destination as *mut Region as u32,
            )
        };
        if result != 0 {
            let reason = unsafe { take(result) };
            return Err(Error::Address(
                ["addr_humanize errored: ", &String::from_utf8_lossy(&reason)].concat(),
            ));
        }
        human.truncate(destination.length as usize);
        String::from_utf8(human)
            .map(Addr::unchecked)
            .map_err(|_| Error::Address("addr_humanize returned a non-UTF-8 address".into()))
    }

    /// [`super::addr_validate`] in the wasm: `ExternalApi::addr_validate`'s steps and messages.
    pub fn vm_validate(input: &str) -> crate::error::Result<Addr> {
        // The VM refuses to read a longer input (its MAX_LENGTH_HUMAN_ADDRESS).
        if input.len() > 256 {
            return Err(Error::Address("input too long for addr_validate".into()));
        }
        let source = Region::borrowed(input.as_bytes());
        let result = unsafe { vm_addr_validate(&source as *const Region as u32) };
        if result != 0 {
            // The VM wrote the reason into a region from our `allocate`: ours to free.
            let reason = unsafe { take(result) };
            return Err(Error::Address(
                ["addr_validate errored: ", &String::from_utf8_lossy(&reason)].concat(),
            ));
        }
        Ok(Addr::unchecked(input))
    }

    /// The `deps.api` a contract gets.
    pub trait NewApi: Api + Sized {
        fn new() -> Self;
    }

    impl NewApi for ExternalApi {
        fn new() -> Self {
            ExternalApi::new()
        }
    }

    /// The `deps.api` of a contract exported with `api: unused`: such a contract validates
    /// addresses with [`super::addr_validate`] and uses no other `Api` method. Why: each
    /// `ExternalApi` method builds a `StdError` on failure, and a `dyn Api` links them all in,
    /// with `StdError`'s backtrace printer (tens of KB of wasm). Every method here panics.
    pub struct UnusedApi;

    impl NewApi for UnusedApi {
        fn new() -> Self {
            UnusedApi
        }
    }

    const UNUSED: &str =
        "this contract is exported with `api: unused`: use kumo::entry::addr_validate";

    impl Api for UnusedApi {
        fn addr_validate(&self, _: &str) -> StdResult<Addr> {
            panic!("{UNUSED}")
        }
        fn addr_canonicalize(&self, _: &str) -> StdResult<CanonicalAddr> {
            panic!("{UNUSED}")
        }
        fn addr_humanize(&self, _: &CanonicalAddr) -> StdResult<Addr> {
            panic!("{UNUSED}")
        }
        fn secp256k1_verify(
            &self,
            _: &[u8],
            _: &[u8],
            _: &[u8],
        ) -> std::result::Result<bool, VerificationError> {
            panic!("{UNUSED}")
        }
        fn secp256k1_recover_pubkey(
            &self,
            _: &[u8],
            _: &[u8],
            _: u8,
        ) -> std::result::Result<Vec<u8>, RecoverPubkeyError> {
            panic!("{UNUSED}")
        }
        fn ed25519_verify(
            &self,
            _: &[u8],
            _: &[u8],
            _: &[u8],
        ) -> std::result::Result<bool, VerificationError> {
            panic!("{UNUSED}")
        }
        fn ed25519_batch_verify(
            &self,
            _: &[&[u8]],
            _: &[&[u8]],
            _: &[&[u8]],
        ) -> std::result::Result<bool, VerificationError> {
            panic!("{UNUSED}")
        }
        fn debug(&self, _: &str) {}
    }

    /// Takes ownership of a region `allocate` made and the VM filled.
    ///
    /// # Safety
    /// `ptr` must be a region from `allocate`, not used again.
    unsafe fn take(ptr: u32) -> Vec<u8> {
        let region = Box::from_raw(ptr as *mut Region);
        Vec::from_raw_parts(
            region.offset as *mut u8,
            region.length as usize,
            region.capacity as usize,
        )
    }

    /// Hands `data` to the VM as a region it frees with `deallocate`.
    fn give(mut data: Vec<u8>) -> u32 {
        let region = Box::new(Region {
            offset: data.as_mut_ptr() as u32,
            capacity: data.capacity() as u32,
            length: data.len() as u32,
        });
        std::mem::forget(data);
        Box::into_raw(region) as u32
    }

    /// Panics abort with their message, as `cosmwasm_std`'s exports arrange (else the VM only sees
    /// an `unreachable` trap).
    fn install_panic_hook() {
        std::panic::set_hook(Box::new(|info| {
            let message = info.to_string();
            let region = Region::borrowed(message.as_bytes());
            unsafe { abort(&region as *const Region as u32) };
        }));
    }

    fn parse<T: FromJson>(bytes: &[u8]) -> Result<T, String> {
        T::parse(bytes).map_err(|e| e.to_string())
    }

    /// Runs `f` with the chain's storage, API and querier.
    fn with_deps<A: NewApi, R>(f: impl FnOnce(DepsMut) -> R) -> R {
        let mut storage = ExternalStorage::new();
        let api = A::new();
        let querier = ChainQuerier;
        f(DepsMut {
            storage: &mut storage,
            api: &api,
            querier: QuerierWrapper::new(&querier),
        })
    }

    type Exec<M, E> = fn(DepsMut, Env, MessageInfo, M) -> Result<Response, E>;

    /// `instantiate` and `execute`.
    pub fn run_with_info<A: NewApi, M: FromJson, E: ToString>(
        f: Exec<M, E>,
        env: u32,
        info: u32,
        msg: u32,
    ) -> u32 {
        install_panic_hook();
        let (env, info, msg) = unsafe { (take(env), take(info), take(msg)) };
        let result = (|| {
            let (env, info, msg) = (parse(&env)?, parse(&info)?, parse(&msg)?);
            with_deps::<A, _>(|deps| f(deps, env, info, msg).map_err(|e| e.to_string()))
        })();
        give(vm::response_result(&result))
    }

    /// `migrate` and `reply`: no `MessageInfo`.
    pub fn run<A: NewApi, M: FromJson, E: ToString>(
        f: fn(DepsMut, Env, M) -> Result<Response, E>,
        env: u32,
        msg: u32,
    ) -> u32 {
        run_as::<A, _, _, _>(f, env, msg, vm::response_result)
    }

    /// An entry point of `(env, msg)` whose result `write` writes (the IBC ones).
    pub fn run_as<A: NewApi, M: FromJson, R, E: ToString>(
        f: fn(DepsMut, Env, M) -> Result<R, E>,
        env: u32,
        msg: u32,
        write: fn(&Result<R, String>) -> Vec<u8>,
    ) -> u32 {
        install_panic_hook();
        let (env, msg) = unsafe { (take(env), take(msg)) };
        let result = (|| {
            let (env, msg) = (parse(&env)?, parse(&msg)?);
            with_deps::<A, _>(|deps| f(deps, env, msg).map_err(|e| e.to_string()))
        })();
        give(write(&result))
    }

    /// `query`.
    pub fn query<A: NewApi, M: FromJson, E: ToString>(
        f: fn(Deps, Env, M) -> Result<Binary, E>,
        env: u32,
        msg: u32,
    ) -> u32 {
        install_panic_hook();
        let (env, msg) = unsafe { (take(env), take(msg)) };
        let result = (|| {
            let (env, msg) = (parse(&env)?, parse(&msg)?);
            with_deps::<A, _>(|deps| f(deps.as_ref(), env, msg).map_err(|e| e.to_string()))
        })();
        give(vm::binary_result(&result))
    }

    /// The chain's querier, its requests and results read without serde: `ExternalQuerier`'s
    /// `raw_query` deserializes the result with serde (and a `dyn Querier` links it in).
    pub struct ChainQuerier;

    impl cosmwasm_std::Querier for ChainQuerier {
        fn raw_query(&self, request: &[u8]) -> cosmwasm_std::QuerierResult {
            let region = Region::borrowed(request);
            let response = unsafe { take(query_chain(&region as *const Region as u32)) };
            vm::query_result(&response)
        }
    }
}

/// Exports a contract's entry points through this module. Each names the contract's Rust
/// function; omit the ones it does not have. A contract that validates addresses only with
/// [`addr_validate`] may begin with `api: unused,` (its `deps.api` then panics if called; the
/// wasm is smaller, see `UnusedApi`).
///
/// ```ignore
/// kumo::exports! {
///     instantiate: crate::contract::instantiate,
///     execute: crate::contract::execute,
///     query: crate::contract::query,
///     migrate: crate::contract::migrate,
///     reply: crate::contract::reply,
///     // With kumo's feature `ibc`: ibc_channel_open, ibc_channel_connect, ibc_channel_close,
///     // ibc_packet_receive, ibc_packet_ack, ibc_packet_timeout, ibc_source_callback.
/// }
/// ```
#[macro_export]
macro_rules! exports {
    (api: unused, $($kind:ident : $f:path),* $(,)?) => {
        #[cfg(all(target_arch = "wasm32", not(feature = "library")))]
        mod __kumo_exports {
            type Api = $crate::entry::UnusedApi;
            $( $crate::exports!(@one $kind $f); )*
        }
    };
    ($($kind:ident : $f:path),* $(,)?) => {
        #[cfg(all(target_arch = "wasm32", not(feature = "library")))]
        mod __kumo_exports {
            type Api = $crate::entry::ExternalApi;
            $( $crate::exports!(@one $kind $f); )*
        }
    };
    (@one instantiate $f:path) => {
        #[no_mangle]
        extern "C" fn instantiate(env: u32, info: u32, msg: u32) -> u32 {
            $crate::entry::run_with_info::<Api, _, _>($f, env, info, msg)
        }
    };
    (@one execute $f:path) => {
        #[no_mangle]
        extern "C" fn execute(env: u32, info: u32, msg: u32) -> u32 {
            $crate::entry::run_with_info::<Api, _, _>($f, env, info, msg)
        }
    };
    (@one query $f:path) => {
        #[no_mangle]
        extern "C" fn query(env: u32, msg: u32) -> u32 {
            $crate::entry::query::<Api, _, _>($f, env, msg)
        }
    };
    (@one migrate $f:path) => {
        #[no_mangle]
        extern "C" fn migrate(env: u32, msg: u32) -> u32 {
            $crate::entry::run::<Api, _, _>($f, env, msg)
        }
    };
    (@one ibc_channel_open $f:path) => {
        #[no_mangle]
        extern "C" fn ibc_channel_open(env: u32, msg: u32) -> u32 {
            $crate::entry::run_as::<Api, _, _, _>($f, env, msg, $crate::json::ibc::channel_open_result)
        }
    };
    (@one ibc_channel_connect $f:path) => {
        #[no_mangle]
        extern "C" fn ibc_channel_connect(env: u32, msg: u32) -> u32 {
            $crate::entry::run_as::<Api, _, _, _>($f, env, msg, $crate::json::ibc::basic_result)
        }
    };
    (@one ibc_channel_close $f:path) => {
        #[no_mangle]
        extern "C" fn ibc_channel_close(env: u32, msg: u32) -> u32 {
            $crate::entry::run_as::<Api, _, _, _>($f, env, msg, $crate::json::ibc::basic_result)
        }
    };
    (@one ibc_packet_receive $f:path) => {
        #[no_mangle]
        extern "C" fn ibc_packet_receive(env: u32, msg: u32) -> u32 {
            $crate::entry::run_as::<Api, _, _, _>($f, env, msg, $crate::json::ibc::receive_result)
        }
    };
    (@one ibc_packet_ack $f:path) => {
        #[no_mangle]
        extern "C" fn ibc_packet_ack(env: u32, msg: u32) -> u32 {
            $crate::entry::run_as::<Api, _, _, _>($f, env, msg, $crate::json::ibc::basic_result)
        }
    };
    (@one ibc_packet_timeout $f:path) => {
        #[no_mangle]
        extern "C" fn ibc_packet_timeout(env: u32, msg: u32) -> u32 {
            $crate::entry::run_as::<Api, _, _, _>($f, env, msg, $crate::json::ibc::basic_result)
        }
    };
    (@one ibc_source_callback $f:path) => {
        #[no_mangle]
        extern "C" fn ibc_source_callback(env: u32, msg: u32) -> u32 {
            $crate::entry::run_as::<Api, _, _, _>($f, env, msg, $crate::json::ibc::basic_result)
        }
    };
    (@one reply $f:path) => {
        #[no_mangle]
        extern "C" fn reply(env: u32, msg: u32) -> u32 {
            $crate::entry::run::<Api, _, _>($f, env, msg)
        }
    };
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::testing::MockStorage;

    use super::*;

    #[test]
    fn contract_versions_are_cw2s() {
        let mut storage = MockStorage::new();
        set_contract_version(&mut storage, "crates.io:kumo-x", "1.2.3");
        let theirs = cw2::get_contract_version(&storage).unwrap();
        assert_eq!(
            (theirs.contract.as_str(), theirs.version.as_str()),
            ("crates.io:kumo-x", "1.2.3")
        );
        cw2::set_contract_version(&mut storage, "other\"", "0.1").unwrap();
        assert_eq!(
            get_contract_version(&storage).unwrap(),
            ContractVersion {
                contract: "other\"".into(),
                version: "0.1".into()
            }
        );
        assert!(get_contract_version(&MockStorage::new()).is_err());
    }

    #[test]
    fn balances_and_canonical_addresses() {
        use cosmwasm_std::testing::{mock_dependencies_with_balance, MockApi, MOCK_CONTRACT_ADDR};
        let deps = mock_dependencies_with_balance(&cosmwasm_std::coins(7, "ukumo"));
        let balance = |denom| query_balance(&deps.as_ref().querier, MOCK_CONTRACT_ADDR, denom);
        assert_eq!(balance("ukumo").unwrap().u128(), 7);
        assert_eq!(balance("uother").unwrap().u128(), 0);

        let api = MockApi::default();
        let addr = api.addr_make("alice");
        let canonical = api.addr_canonicalize(addr.as_str()).unwrap();
        assert_eq!(addr_humanize(&api, &canonical).unwrap(), addr);
        assert!(matches!(
            addr_humanize(&api, b"").unwrap_err(),
            Error::Address(_)
        ));
    }
}
