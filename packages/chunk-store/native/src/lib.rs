//! Node-API addon of @armillaria/chunk-store: BLAKE3 (SIMD, rayon-parallel) and content-defined
//! chunking. Loaded only by `src/native-hasher.ts`, which adds typed errors and the `Hasher` shape.
//!
//! Bad input throws a plain napi error (`code: 'InvalidArg'`); the JS wrapper validates first and
//! throws the typed INVALID_ARGUMENT error, so these checks are a second line of defence.

mod cdc;
mod pools;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use rayon::prelude::*;

/// Below this, one thread with SIMD beats the cost of splitting (blake3 recommends ~128 KiB).
const RAYON_MIN_BYTES: usize = 128 * 1024;

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, msg.into())
}

fn hash_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// BLAKE3 of one buffer, spreading a large one over the current rayon pool.
fn hash_hex_parallel(data: &[u8]) -> String {
    if data.len() < RAYON_MIN_BYTES {
        return hash_hex(data);
    }
    let mut h = blake3::Hasher::new();
    h.update_rayon(data);
    h.finalize().to_hex().to_string()
}

/// BLAKE3-256 of one buffer as 64 lowercase hex chars, on the calling (JS) thread, no copy.
#[napi]
pub fn hash(data: Uint8ArraySlice<'_>) -> String {
    hash_hex(&data)
}

pub struct HashManyTask {
    // Owned typed arrays hold a napi_ref, so the bytes stay alive (and uncopied) while the libuv
    // thread reads them; the caller must not mutate them until the promise settles.
    buffers: Vec<Uint8Array>,
    threads: Option<u32>,
}

impl Task for HashManyTask {
    type Output = Vec<String>;
    type JsValue = Vec<String>;

    fn compute(&mut self) -> Result<Self::Output> {
        let buffers = &self.buffers;
        let run = || {
            buffers
                .par_iter()
                .map(|b| hash_hex_parallel(b))
                .collect::<Vec<_>>()
        };
        match self.threads {
            None => Ok(run()),
            Some(n) => Ok(pools::pool(n).map_err(invalid)?.install(run)),
        }
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

/// BLAKE3 of every buffer, on the libuv pool, parallel over buffers and within large ones (rayon).
/// `threads` selects a dedicated pool of that size; omitted, rayon's global pool (one per core).
#[napi(ts_return_type = "Promise<string[]>")]
pub fn hash_many(
    buffers: Vec<Uint8Array>,
    threads: Option<u32>,
) -> Result<AsyncTask<HashManyTask>> {
    if let Some(n) = threads {
        pools::pool(n).map_err(invalid)?;
    }
    Ok(AsyncTask::new(HashManyTask { buffers, threads }))
}

/// Incremental BLAKE3; `digest` ends it.
#[napi]
pub struct Blake3Incremental {
    inner: Option<blake3::Hasher>,
}

#[napi]
impl Blake3Incremental {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self {
            inner: Some(blake3::Hasher::new()),
        }
    }

    #[napi]
    pub fn update(&mut self, data: Uint8ArraySlice<'_>) -> Result<()> {
        let h = self
            .inner
            .as_mut()
            .ok_or_else(|| invalid("incremental hasher used after digest()"))?;
        h.update(&data);
        Ok(())
    }

    #[napi]
    pub fn digest(&mut self) -> Result<String> {
        let h = self
            .inner
            .take()
            .ok_or_else(|| invalid("digest() called twice"))?;
        Ok(h.finalize().to_hex().to_string())
    }
}

/// Content-defined chunk lengths (see `cdc.rs`), on the calling thread.
#[napi]
pub fn cdc_chunk_lengths(
    data: Uint8ArraySlice<'_>,
    min_size: u32,
    avg_size: u32,
    max_size: u32,
) -> Result<Vec<u32>> {
    let p = cdc::CdcParams {
        min_size,
        avg_size,
        max_size,
    };
    if let Some(reason) = cdc::invalid_reason(&p) {
        return Err(invalid(reason));
    }
    Ok(cdc::chunk_lengths(&data, &p))
}

/// The gear table, so tests can check the JS copy is generated identically.
#[napi]
pub fn cdc_gear_table() -> Vec<u32> {
    cdc::GEAR.to_vec()
}

/// Facts about the loaded addon, for `hasherInfo()` and benchmark headers.
#[napi(object)]
pub struct NativeInfo {
    /// Size of rayon's global pool (used by `hashMany` without `threads`).
    pub rayon_threads: u32,
    pub max_pool_threads: u32,
}

#[napi]
pub fn native_info() -> NativeInfo {
    NativeInfo {
        rayon_threads: rayon::current_num_threads() as u32,
        max_pool_threads: pools::MAX_THREADS,
    }
}
