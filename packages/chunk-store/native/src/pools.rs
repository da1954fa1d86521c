//! Dedicated rayon pools by thread count, built once per count and kept for the process lifetime,
//! so a benchmark can compare 1 vs 2 threads without rebuilding a pool on every call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

/// Upper bound on a requested pool size: each pool's threads live as long as the process.
pub const MAX_THREADS: u32 = 256;

static POOLS: OnceLock<Mutex<HashMap<u32, Arc<ThreadPool>>>> = OnceLock::new();

pub fn pool(threads: u32) -> Result<Arc<ThreadPool>, String> {
    if threads == 0 || threads > MAX_THREADS {
        return Err(format!(
            "threads must be within 1..={MAX_THREADS} (got {threads})"
        ));
    }
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| "rayon pool registry poisoned".to_string())?;
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let built = ThreadPoolBuilder::new()
        .num_threads(threads as usize)
        .thread_name(move |i| format!("armillaria-b3-{threads}-{i}"))
        .build()
        .map_err(|e| format!("cannot build a rayon pool of {threads} threads: {e}"))?;
    let built = Arc::new(built);
    pools.insert(threads, built.clone());
    Ok(built)
}
