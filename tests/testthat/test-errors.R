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

test_that("?doodles_error lists every class the Rust core raises", {
  rd <- tools::Rd_db("doodles")[["doodles_error.Rd"]]
  text <- paste(utils::capture.output(tools::Rd2txt(rd, options = list(underline_titles = FALSE))), collapse = "\n")
  classes <- doodles:::rust_error_classes()
  expect_true("internal" %in% classes)
  for (class in classes) expect_match(text, paste0("doodles_error_", class), fixed = TRUE)
})
