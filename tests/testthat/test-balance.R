# balance_predictions(): top-1 counts balanced, rows still probabilities, classed argument errors.

softmax_rows <- function(logits) {
  e <- exp(logits - apply(logits, 1, max))
  e / rowSums(e)
}

top1_counts <- function(p) tabulate(max.col(p, ties.method = "first"), ncol(p))

# The most probable assignment of the rows to classes with the given counts, by enumeration.
best_assignment <- function(p, counts) {
  grid <- as.matrix(expand.grid(rep(list(seq_len(ncol(p))), nrow(p))))
  ok <- apply(grid, 1, function(a) all(tabulate(a, ncol(p)) == counts))
  grid <- grid[ok, , drop = FALSE]
  logp <- log(p)
  score <- apply(grid, 1, function(a) sum(logp[cbind(seq_len(nrow(p)), a)]))
  unname(grid[which.max(score), ])
}

test_that("a skewed prediction becomes the most probable balanced one", {
  set.seed(42)
  p <- softmax_rows(matrix(rnorm(27), 9, 3) + rep(c(2, 0, 0), each = 9))
  expect_identical(top1_counts(p), c(9L, 0L, 0L))
  balanced <- balance_predictions(p)
  expect_identical(top1_counts(balanced), c(3L, 3L, 3L))
  expect_identical(max.col(balanced, ties.method = "first"), best_assignment(p, c(3, 3, 3)))
  expect_identical(unname(attr(balanced, "counts")), c(3L, 3L, 3L))
  expect_true(attr(balanced, "converged"))
  expect_equal(rowSums(balanced), rep(1, 9), tolerance = 1e-12)
  # softmax(log(p) + offsets), row by row.
  expect_equal(c(balanced), c(softmax_rows(log(p) + rep(attr(balanced, "offsets"), each = 9))),
               tolerance = 1e-12)
})

test_that("a large skewed prediction gets counts within 1 of each other", {
  set.seed(1)
  n <- 2003
  truth <- rep_len(1:20, n)
  logits <- matrix(rnorm(n * 20), n, 20) + 2 * outer(truth, 1:20, "==") +
    rep(seq(2, 0, length.out = 20), each = n)
  p <- softmax_rows(logits)
  before <- top1_counts(p)
  expect_gt(max(before) - min(before), 200)
  balanced <- balance_predictions(p)
  after <- top1_counts(balanced)
  expect_identical(sort(unique(after)), c(100L, 101L))
  expect_identical(sum(after == 101L), 3L)
  expect_identical(unname(attr(balanced, "counts")), after)
  expect_true(attr(balanced, "converged"))
  expect_equal(rowSums(balanced), rep(1, n), tolerance = 1e-12)
  # The classes are in equal shares, so balancing recovers right answers.
  expect_gt(mean(max.col(balanced) == truth), mean(max.col(p) == truth) + 0.05)
})

test_that("unsure rows with more classes than candidates are balanced over the whole matrix", {
  set.seed(2)
  n <- 1200
  p <- softmax_rows(0.3 * matrix(rnorm(n * 40), n, 40) +
                      rep(seq(0.5, 0, length.out = 40), each = n))
  expect_gt(diff(range(top1_counts(p))), 50)
  balanced <- balance_predictions(p)
  expect_identical(top1_counts(balanced), rep(30L, 40))
  expect_true(attr(balanced, "converged"))
  expect_gt(attr(balanced, "iterations"), 0)
})

test_that("a balanced prediction is returned unchanged", {
  p <- rbind(c(0.6, 0.3, 0.1), c(0.1, 0.6, 0.3), c(0.3, 0.1, 0.6),
             c(0.5, 0.45, 0.05), c(0.05, 0.5, 0.45), c(0.45, 0.05, 0.5))
  balanced <- balance_predictions(p)
  expect_equal(c(balanced), c(p), tolerance = 1e-12)
  expect_identical(attr(balanced, "offsets"), c(0, 0, 0))
  expect_identical(attr(balanced, "iterations"), 0L)
  expect_identical(attr(balanced, "moves"), 0L)
  # 7 rows of 3 classes: 3, 2, 2 is balanced too.
  p7 <- rbind(p, c(0.7, 0.2, 0.1))
  expect_equal(c(balance_predictions(p7)), c(p7), tolerance = 1e-12)
})

test_that("one row, and one column, are balanced as they are", {
  p <- matrix(c(0.2, 0.5, 0.3), 1, dimnames = list("a", c("x", "y", "z")))
  balanced <- balance_predictions(p)
  expect_equal(c(balanced), c(0.2, 0.5, 0.3), tolerance = 1e-15)
  expect_identical(dimnames(balanced), dimnames(p))
  expect_identical(unname(attr(balanced, "counts")), c(0L, 1L, 0L))
  expect_equal(c(balance_predictions(matrix(1, 4, 1))), rep(1, 4))
})

test_that("a class never predicted gets its share, and zero probabilities stay zero", {
  p <- rbind(c(0.5, 0.3, 0.15, 0.05), c(0.6, 0.2, 0.19, 0.01), c(0.4, 0.35, 0.2, 0.05),
             c(0.3, 0.5, 0.1, 0.1), c(0.2, 0.6, 0.1, 0.1), c(0.45, 0.45, 0, 0.1),
             c(0.7, 0, 0.2, 0.1), c(0.35, 0.3, 0.3, 0.05))
  expect_identical(top1_counts(p)[3:4], c(0L, 0L))
  balanced <- balance_predictions(p)
  expect_identical(top1_counts(balanced), c(2L, 2L, 2L, 2L))
  expect_identical(max.col(balanced, ties.method = "first"), best_assignment(p, c(2, 2, 2, 2)))
  expect_identical(which(balanced == 0), which(p == 0))
  expect_equal(rowSums(balanced), rep(1, 8), tolerance = 1e-12)
})

test_that("dimnames are kept and name the offsets and counts", {
  set.seed(3)
  p <- softmax_rows(matrix(rnorm(12), 4, 3) + rep(c(3, 0, 0), each = 4))
  dimnames(p) <- list(paste0("drawing", 1:4), c("cat", "dog", "The Eiffel Tower"))
  balanced <- balance_predictions(p)
  expect_identical(dimnames(balanced), dimnames(p))
  expect_identical(dim(balanced), c(4L, 3L))
  expect_named(attr(balanced, "offsets"), colnames(p))
  expect_named(attr(balanced, "counts"), colnames(p))
  expect_lte(diff(range(top1_counts(balanced))), 1)
})

test_that("target sets unequal shares", {
  set.seed(4)
  p <- softmax_rows(matrix(rnorm(24), 8, 3))
  balanced <- balance_predictions(p, target = c(0.5, 0.25, 0.25))
  expect_identical(top1_counts(balanced), c(4L, 2L, 2L))
  expect_identical(max.col(balanced, ties.method = "first"), best_assignment(p, c(4, 2, 2)))
  # Shares are normalised; a zero share gets no rows.
  expect_identical(top1_counts(balance_predictions(p, target = c(2, 2, 0))), c(4L, 4L, 0L))
})

test_that("rows that do not allow balance are returned as close as it got, not converged", {
  # No row gives class 3 any probability.
  p <- cbind(matrix(c(0.9, 0.8, 0.7, 0.6, 0.5, 0.4), 6, 1), 0)
  p <- cbind(p[, 1], 1 - p[, 1], 0)
  balanced <- balance_predictions(p)
  expect_false(attr(balanced, "converged"))
  expect_identical(balanced[, 3], rep(0, 6))
  expect_equal(rowSums(balanced), rep(1, 6), tolerance = 1e-12)
  expect_identical(top1_counts(balanced), c(3L, 3L, 0L))
  # Identical rows cannot be split between classes.
  same <- matrix(c(0.7, 0.3), 4, 2, byrow = TRUE)
  expect_false(attr(balance_predictions(same), "converged"))
})

test_that("rows summing to 1 within float precision are accepted", {
  p <- rbind(c(0.6, 0.4), c(0.7, 0.3)) * (1 + 1e-7)
  balanced <- balance_predictions(p)
  expect_equal(rowSums(balanced), c(1, 1), tolerance = 1e-15)
  expect_identical(top1_counts(balanced), c(1L, 1L))
})

test_that("bad arguments are doodles_error_argument", {
  p <- rbind(c(0.6, 0.4), c(0.7, 0.3))
  err <- expect_error(balance_predictions(c(0.6, 0.4)), class = "doodles_error_argument")
  expect_identical(err$call[[1]], quote(balance_predictions))
  expect_match(conditionMessage(err), "probabilities")
  expect_error(balance_predictions(matrix(c("a", "b"), 1)), class = "doodles_error_argument")
  expect_error(balance_predictions(rbind(c(0.6, NA), c(0.7, 0.3))),
               class = "doodles_error_argument")
  expect_error(balance_predictions(rbind(c(1.2, -0.2), c(0.7, 0.3))),
               class = "doodles_error_argument")
  expect_error(balance_predictions(matrix(numeric(0), 0, 2)), class = "doodles_error_argument")
  sums <- expect_error(balance_predictions(rbind(c(0.6, 0.4), c(0.5, 0.3))),
                       class = "doodles_error_argument")
  expect_match(conditionMessage(sums), "1 do not (first: row 2, sum 0.8)", fixed = TRUE)
  expect_error(balance_predictions(p, target = c(1, 1, 1)), class = "doodles_error_argument")
  expect_error(balance_predictions(p, target = c(1, -1)), class = "doodles_error_argument")
  expect_error(balance_predictions(p, target = c(0, 0)), "positive share",
               class = "doodles_error_argument")
  named <- p
  colnames(named) <- c("cat", "dog")
  expect_error(balance_predictions(named, target = c(dog = 1, cat = 1)), "column names",
               class = "doodles_error_argument")
  expect_error(balance_predictions(p, max_iterations = -1), class = "doodles_error_argument")
  expect_error(balance_predictions(p, max_iterations = 1.5), class = "doodles_error_argument")
})
