// Registration is forwarded to Rust so that the linker keeps the static library's symbols.
void R_init_doodles_extendr(void *dll);

// The C functions Python calls through ctypes (src/rust/src/python.rs). Nothing in R calls them,
// so they are referenced here for the linker to keep them in the package's shared library.
void doodles_producer_retain(void);
void doodles_producer_release(void);
void doodles_producer_batch(void);
void doodles_producer_waited(void);
void doodles_producer_ids(void);
void doodles_array_free(void);

__attribute__((used)) static void (*const doodles_python_api[])(void) = {
    doodles_producer_retain, doodles_producer_release, doodles_producer_batch,
    doodles_producer_waited, doodles_producer_ids, doodles_array_free,
};

void R_init_doodles(void *dll) {
    R_init_doodles_extendr(dll);
}
