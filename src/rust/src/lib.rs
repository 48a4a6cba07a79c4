//! R bindings of doodles. The work is done in the `doodles-raster` and `doodles-store` crates,
//! which know nothing of R; these modules only convert arguments and results, on R's main thread.
use extendr_api::prelude::*;

mod errors;
mod raster;
mod store;

extendr_module! {
    mod doodles;
    use errors;
    use raster;
    use store;
}
