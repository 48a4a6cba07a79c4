// Registration is forwarded to Rust so that the linker keeps the static library's symbols.
void R_init_doodles_extendr(void *dll);

void R_init_doodles(void *dll) {
    R_init_doodles_extendr(dll);
}
