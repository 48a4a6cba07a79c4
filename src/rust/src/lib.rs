//! R bindings of doodles. The work is done in the `doodles-raster` and `doodles-store` crates,
//! which know nothing of R; these modules only convert arguments and results, on R's main thread,
//! except `python`: the C functions Python threads call to take batches from a producer.
use extendr_api::prelude::*;

mod errors;
mod producer;
pub mod python;
mod raster;
mod store;
mod workers;

extendr_module! {
    mod doodles;
    use errors;
    use producer;
    use raster;
    use store;
    use workers;
}
