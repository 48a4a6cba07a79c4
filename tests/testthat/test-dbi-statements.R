# One statement per query: SQL is split by DuckDB's parser before anything runs; queries refuse
# several statements, dbExecute() runs each once, and the stroke index follows what did run.

local_sample_store <- function(env = parent.frame()) {
  con <- local_store(env = env)
  load_doodles(con, sample_zip(), progress = FALSE)
  con
}

test_that("dbGetQuery() and dbSendQuery() refuse several statements and run none", {
  con <- local_sample_store()
  before <- read_doodles(con, 1:3000)
  expect_error(
    DBI::dbGetQuery(con, "SELECT 1; DROP TABLE doodles"),
    "run one statement, but this SQL has 2 \\(SELECT 1; DROP TABLE doodles\\); none was run",
    class = "doodles_error_argument"
  )
  expect_error(
    DBI::dbSendQuery(con, "SELECT count(*) FROM doodles; UPDATE doodles SET drawing = '[[[1], [1]]]' WHERE id = 5"),
    class = "doodles_error_argument"
  )
  # A write first (duckdb-rs would run it while preparing the query) is not run either.
  expect_error(
    DBI::dbGetQuery(con, "DELETE FROM doodles WHERE id > 10; SELECT count(*) FROM doodles"),
    class = "doodles_error_argument"
  )
  expect_true(DBI::dbExistsTable(con, "doodles"))
  expect_identical(read_doodles(con, 1:3000), before)
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n, 3000)
  # The connection has no open result left behind by the refusals.
  expect_identical(DBI::dbGetQuery(con, "SELECT 2 AS x")$x, 2L)
})

test_that("a ; inside a string, a quoted name, a comment or dollar quotes separates nothing", {
  con <- local_store()
  expect_identical(DBI::dbGetQuery(con, "SELECT 'a;b' AS x")$x, "a;b")
  expect_identical(DBI::dbGetQuery(con, "SELECT 'it''s; fine' AS x")$x, "it's; fine")
  expect_named(DBI::dbGetQuery(con, 'SELECT 1 AS "x;y"'), "x;y")
  expect_identical(DBI::dbGetQuery(con, "SELECT 1 AS x -- ; DROP TABLE t\n")$x, 1L)
  expect_identical(DBI::dbGetQuery(con, "SELECT /* ; SELECT 2 */ 3 AS x")$x, 3L)
  expect_identical(DBI::dbGetQuery(con, "SELECT $$a;b$$ AS x")$x, "a;b")
  expect_identical(DBI::dbGetQuery(con, "SELECT $tag$ ; $$ ; $tag$ AS x")$x, " ; $$ ; ")
  # A trailing ; (or comment) ends the one statement.
  expect_identical(DBI::dbGetQuery(con, "SELECT 4 AS x;")$x, 4L)
  expect_identical(DBI::dbGetQuery(con, "SELECT 5 AS x; -- done")$x, 5L)
  expect_identical(DBI::dbGetQuery(con, "SELECT ? AS x;", params = list(6L))$x, 6L)
  expect_error(DBI::dbGetQuery(con, "SELECT 'a'; SELECT ';'"), "has 2", class = "doodles_error_argument")
  expect_error(DBI::dbGetQuery(con, "SELEC 1"), "syntax error", class = "doodles_error_db")
})

test_that("dbExecute() runs every statement once and reports the last one's rows", {
  con <- local_store()
  changed <- DBI::dbExecute(con, paste(
    "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);",
    "INSERT INTO t VALUES (length('a;b')); -- a comment; not a statement"
  ))
  expect_identical(changed, 1)
  expect_identical(DBI::dbGetQuery(con, "SELECT x FROM t ORDER BY x")$x, 1:3)
  res <- DBI::dbSendStatement(con, "INSERT INTO t VALUES (4); UPDATE t SET x = x * 10")
  expect_identical(DBI::dbGetRowsAffected(res), 4)
  # Binding would run the statements again: refused, as parameters with several statements are.
  expect_error(DBI::dbBind(res, list(1)), "parameters bind to one statement", class = "doodles_error_argument")
  DBI::dbClearResult(res)
  expect_error(
    DBI::dbExecute(con, "INSERT INTO t VALUES (5); INSERT INTO t VALUES (?)", params = list(6L)),
    "this SQL has 2", class = "doodles_error_argument"
  )
  expect_identical(DBI::dbGetQuery(con, "SELECT x FROM t ORDER BY x")$x, c(10L, 20L, 30L, 40L))
  # Statements before a failing one stay done (each commits on its own outside dbBegin()).
  expect_error(DBI::dbExecute(con, "INSERT INTO t VALUES (7); INSERT INTO missing VALUES (1)"), class = "doodles_error_db")
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*) AS n FROM t WHERE x = 7")$n, 1)
})

test_that("the stroke index follows writes made by several statements", {
  con <- local_sample_store()
  index_doodles(con)
  drawing <- "[[[0, 255], [0, 255]]]"
  # The write comes first and the last statement only reads: the index must still be checked.
  DBI::dbExecute(con, sprintf("UPDATE doodles SET drawing = '%s' WHERE id = 5; SELECT 1", drawing))
  expect_identical(read_doodles(con, 5)$drawing, drawing)
  expect_identical(doodle_batch(con, 5, scale = 0.25)$x, draw_doodles(drawing, scale = 0.25))
  DBI::dbExecute(con, "DELETE FROM doodles WHERE id = 3000; SELECT count(*) FROM doodles")
  expect_error(read_doodles(con, 3000), class = "doodles_error_argument")
  # A refused query leaves the index serving what the table holds.
  expect_error(DBI::dbGetQuery(con, "SELECT 1; UPDATE doodles SET drawing = '[[[1], [1]]]' WHERE id = 6"))
  expect_identical(read_doodles(con, 6)$drawing, DBI::dbGetQuery(con, "SELECT drawing FROM doodles WHERE id = 6")$drawing)
  expect_false(identical(read_doodles(con, 6)$drawing, "[[[1], [1]]]"))
})
