# Random batches through the stroke index: the right rows, rendered as draw_doodles() would,
# never stale.

local_sample_store <- function(dbdir = ":memory:", env = parent.frame()) {
  con <- local_store(dbdir, env = env)
  load_doodles(con, sample_zip(), progress = FALSE)
  con
}

test_that("read_doodles returns the rows of the ids, in their order", {
  con <- local_sample_store()
  ids <- c(17L, 3L, 2999L, 3L, 1L)
  got <- read_doodles(con, ids)
  db <- DBI::dbGetQuery(con, "SELECT id, drawing, label_int FROM doodles")
  expected <- db[match(ids, db$id), ]
  rownames(expected) <- NULL
  expect_identical(got, expected)
  expect_error(read_doodles(con, c(1, 3001)), "ids\\[2\\] is 3001", class = "doodles_error_argument")
  expect_error(read_doodles(con, 0), class = "doodles_error_argument")
})

test_that("doodle_batch renders the ids as draw_doodles does, with their labels", {
  con <- local_sample_store()
  ids <- c(5, 1, 42, 2000)
  rows <- read_doodles(con, ids)
  batch <- doodle_batch(con, ids, scale = 0.25)
  expect_identical(dim(batch$x), c(4L, 64L, 64L, 1L))
  expect_identical(batch$y, rows$label_int)
  expect_identical(batch$x, draw_doodles(rows$drawing, scale = 0.25))
  colour <- doodle_batch(con, ids, scale = 0.125, color = TRUE)
  expect_identical(dim(colour$x), c(4L, 32L, 32L, 3L))
  expect_identical(colour$x, draw_doodles(rows$drawing, scale = 0.125, color = TRUE))
})

test_that("a prefetched batch equals a batch rendered on demand", {
  con <- local_sample_store()
  first <- c(10, 20, 30)
  second <- c(2999, 1, 1500, 7)
  a <- doodle_batch(con, first, scale = 0.25, next_ids = second)
  b <- doodle_batch(con, second, scale = 0.25)
  expect_identical(b, doodle_batch(con, second, scale = 0.25))
  expect_identical(b$x, draw_doodles(read_doodles(con, second)$drawing, scale = 0.25))
  # A prefetch for other options or ids is not used for this call.
  doodle_batch(con, first, scale = 0.25, next_ids = second)
  c <- doodle_batch(con, second, scale = 0.125)
  expect_identical(dim(c$x), c(4L, 32L, 32L, 1L))
})

test_that("writes through DBI are seen at once: the index never serves stale rows", {
  con <- local_sample_store()
  other <- DBI::dbConnect(con@driver, dbdir = ":memory:")
  withr::defer(DBI::dbDisconnect(other))
  before <- read_doodles(con, 5)
  new_drawing <- "[[[0, 255], [0, 255]]]"
  DBI::dbExecute(other, "UPDATE doodles SET drawing = ? WHERE id = 5", params = list(new_drawing))
  expect_identical(read_doodles(con, 5)$drawing, new_drawing)
  expect_identical(doodle_batch(con, 5, scale = 0.25)$x, draw_doodles(new_drawing, scale = 0.25))
  DBI::dbExecute(con, "UPDATE doodles SET drawing = ? WHERE id = 5", params = list(before$drawing))
  expect_identical(read_doodles(con, 5), before)
})

test_that("bad ids and options are errors", {
  con <- local_sample_store()
  expect_error(doodle_batch(con, c(1, NA)), "ids")
  expect_error(doodle_batch(con, 1.5), "ids")
  expect_error(doodle_batch(con, 3001), class = "doodles_error_argument")
  expect_error(doodle_batch(con, 1, encoding = "sepia"), class = "doodles_error_argument")
})
