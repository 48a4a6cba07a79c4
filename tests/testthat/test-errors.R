# The error classes: one per kind whichever layer found the problem (checkmate in R, the Rust
# core, extendr itself), all `doodles_error`, all listed in ?doodles_error.

test_that("checkmate's argument failures are doodles_error_argument in the function called", {
  err <- expect_error(draw_doodles(1), class = "doodles_error_argument")
  expect_s3_class(err, "doodles_error")
  expect_match(conditionMessage(err), "Assertion on 'x' failed")
  expect_identical(err$call[[1]], quote(draw_doodles))
  con <- local_store()
  expect_error(load_doodles(con, 1, progress = FALSE), "Assertion on 'path' failed", class = "doodles_error_argument")
  expect_identical(expect_error(load_doodles(con, 1, progress = FALSE))$call[[1]], quote(load_doodles))
})

test_that("a bad drawing is doodles_error_drawing from draw_doodles() and doodle_batch(), with its index", {
  bad <- "[[[0, 1]]"
  drawn <- expect_error(draw_doodles(c("[[[0, 1], [2, 3]]]", bad)), class = "doodles_error_drawing")
  expect_identical(drawn$index, 2)
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  DBI::dbExecute(con, "UPDATE doodles SET drawing = ? WHERE id = 42", params = list(bad))
  batched <- expect_error(doodle_batch(con, c(7, 42, 9)), class = "doodles_error_drawing")
  expect_identical(c(batched$index, batched$id), c(2, 42))
  expect_match(conditionMessage(batched), "ids[2] (id 42)", fixed = TRUE)
  expect_match(conditionMessage(drawn), "stroke 1 has only one array", fixed = TRUE)
  expect_match(conditionMessage(batched), "stroke 1 has only one array", fixed = TRUE)
})

test_that("an error extendr raises itself (a wrong R type for an export) is doodles_error_internal", {
  err <- expect_error(doodles:::store_connect(1, "", FALSE), class = "doodles_error_internal")
  expect_match(conditionMessage(err), "internal error in doodles' Rust code")
})

# The error kinds the package's R code raises: the literal `kind` of every abort_doodles() call,
# and the kinds Python exceptions are mapped to (`c(DrawingError = "drawing", ...)` in a
# function, or the table python_error_kinds).
r_error_kinds <- function() {
  kinds <- character()
  walk <- function(x) {
    if (!is.call(x) && !is.pairlist(x)) return()
    parts <- as.list(x)
    if (is.call(x) && identical(parts[[1]], quote(abort_doodles)) && is.character(parts[["kind"]])) {
      kinds <<- c(kinds, parts[["kind"]])
    }
    for (i in seq_along(parts)) {
      if (identical(parts[[i]], quote(expr = ))) next # an empty argument, as in x[, 1]
      if (grepl("Error$", names(parts)[i] %||% "") && is.character(parts[[i]])) kinds <<- c(kinds, parts[[i]])
      walk(parts[[i]])
    }
  }
  ns <- asNamespace("doodles")
  for (name in ls(ns, all.names = TRUE)) {
    value <- get(name, envir = ns)
    if (is.function(value)) {
      walk(formals(value))
      walk(body(value))
    }
  }
  unique(c(kinds, unname(doodles:::python_error_kinds)))
}

test_that("?doodles_error lists every class the R code, the Rust core and the Python side raise", {
  rd <- tools::Rd_db("doodles")[["doodles_error.Rd"]]
  text <- paste(utils::capture.output(tools::Rd2txt(rd, options = list(underline_titles = FALSE))), collapse = "\n")
  from_r <- r_error_kinds()
  expect_true(all(c("argument", "usage", "workers", "dependency", "drawing") %in% from_r))
  classes <- c(from_r, doodles:::rust_error_classes())
  expect_true("disk_full" %in% classes)
  for (class in unique(classes)) {
    expect_match(text, paste0("doodles_error_", class, "[^a-z_]{0,3}:"), label = paste0("doodles_error_", class))
  }
})
