.onLoad <- function(libname, pkgname) {
  keep_freed_memory_if_asked()
}

# Large R arrays come from fresh mmap()ed memory, and touching it page by page costs as much as
# rasterizing (see ?draw_doodles, section Memory). On request, glibc's malloc keeps freed blocks up
# to 1 GiB in its heap instead, so the next batch reuses pages already touched; the process then
# keeps its peak heap until it ends. Off by default.
keep_freed_memory_if_asked <- function() {
  asked <- getOption("doodles.keep_freed_memory", Sys.getenv("DOODLES_KEEP_FREED_MEMORY"))
  if (isTRUE(asked) || identical(tolower(as.character(asked)), "true") || identical(asked, "1")) {
    raster_keep_freed_memory(2^30, 2^30)
  } else {
    FALSE
  }
}
