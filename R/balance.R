# Prediction balancing (the Quick, Draw! 1st place's post-processing): per-class offsets added to
# the log-probabilities so that the predicted classes come out in the shares the test set is known
# to hold. Rounds of per-class quantile steps bring the counts close, shortest augmenting paths
# between classes move the last drawings one by one, and the offsets are recomputed from the final
# assignment so that the top-1 classes are exactly it.

#' Balance predictions over classes
#'
#' Shifts each class's scores so that the classes predicted first (the top-1 of each row) come out
#' in the shares the test set holds: the post-processing the 1st place of Kaggle's Quick, Draw!
#' challenge reported "+0.7% for every model" with. Kaggle's test set holds about the same number
#' of drawings per class, while a model predicts some classes far more often than others.
#'
#' The result is `softmax(log(p) + b)` row by row for one offset `b[j]` per class (computed as
#' `p[, j] * exp(b[j])` divided by its row's sum): each row keeps its own order among classes
#' except where an offset moves a class past another, rows sum to 1, and a zero probability stays
#' zero. The offsets are chosen so that the top-1 count of each class `j` is `floor(n * target[j])`
#' or `ceiling(n * target[j])` for `n` rows, i.e. with equal shares the counts are within 1 of each
#' other:
#'
#' 1. Rounds (at most `max_iterations`): each class with too many top-1 rows lowers its offset so
#'    that it would lose half its excess, the rows with the smallest margins over their second
#'    class going first (the offset lands halfway between two margins); each class with too few
#'    raises its offset to win half its shortfall, the closest rows first. Classes with too many
#'    and classes with too few act in alternate rounds, so that a drawing is not pushed and pulled
#'    at once. The rounds run first on each row's candidate classes (at most 32, within a factor
#'    of about 22,000 of its best), then, only where the whole matrix's top-1 classes are much less
#'    balanced than the candidates', on the whole matrix. They remove most of the imbalance in a
#'    few dozen rounds but converge slowly at the end (a drawing pushed out of a full class lands in
#'    another full one), so they stop when two rounds have lowered the imbalance by less than a
#'    fifth.
#' 2. The rest moves one drawing at a time along the cheapest chain of moves between classes (a
#'    drawing of class A becomes B, one of B becomes C, ...), found by Bellman-Ford over the classes
#'    (the cost of A -> B is the smallest loss of log-probability among A's drawings): successive
#'    shortest paths for the transportation problem, which keep the assignment the most probable
#'    one for its class counts, so that offsets exist under which it is the top-1.
#' 3. The offsets are the largest ones below those of phase 1 under which every drawing's top-1 is
#'    the class phase 2 assigned it (a shortest-path problem over the classes, with a margin of
#'    `1e-6` in log-probability, `1e-10` if that is too much), and the top-1 counts are checked.
#'
#' Rounds alone (the 1st place's iterations, and the simpler schemes of shifting the most
#' predicted class or scaling columns to equal sums) approach balance but rarely reach it on a
#' large matrix; phase 2 makes the counts exact wherever the rows allow them: not, for example,
#' when identical rows would have to go to different classes, when a class has probability 0 in
#' every row but a positive target, or when rows hold a single non-zero probability. Then the
#' offsets of phase 1 are kept and the attribute `converged` is `FALSE`.
#'
#' @section Assumption: Balancing helps only when the rows to predict hold the classes in about the
#'   shares of `target` (Kaggle's test set: 112,199 drawings, 330 per class give or take 1, for 340
#'   classes), and enough rows per class for the counts to mean something. On a skewed set it moves
#'   correct predictions to wrong classes.
#'
#' @section Cost: Memory: four `nrow x ncol` double matrices at most (the log-probabilities, their
#'   transpose, the shifted scores and the result: about 300 MB each for 112,199 x 340) and the
#'   candidates (`nrow x 32`). Time: a round on the candidates costs two passes over `nrow x 32`,
#'   one on the whole matrix two to four passes over it (`max.col()`, a column update, partial sorts
#'   of the columns short of rows); each move of phase 2 costs a Bellman-Ford over `ncol x ncol`
#'   costs and a recomputation of the costs of the classes on its chain (a few milliseconds each).
#'   On a random 112,199 x 340 matrix skewed as an unsure model's output (top-1 counts from 41 to
#'   2,591 per class, 39% right), balancing took 21 to 29 s (19 s of CPU) on a shared 2-core
#'   machine: 24 rounds and 156 moves, and made 46% right. Rows already balanced cost one pass
#'   (about 1 s there, with the checks and the copy).
#'
#' @param probabilities A numeric matrix of class probabilities: one row per drawing, one column
#'   per class (as `predict_probabilities()` or a model's `predict()` returns), values in \[0, 1\],
#'   each row summing to 1 within `1e-3`.
#' @param target The expected share of each class in the rows, in column order (non-negative,
#'   normalised to sum 1); by default equal shares. Named, its names must be the column names.
#' @param max_iterations The most rounds of phase 1, in all (0: phase 2 does all the work, slowly
#'   when the imbalance is large).
#' @return A matrix of the same shape and dimnames: the balanced probabilities, rows summing to 1,
#'   with attributes `offsets` (the per-class `b`, named as the columns), `iterations` (rounds of
#'   phase 1), `moves` (drawings moved in phase 2), `counts` (top-1 count per class of the result,
#'   ties to the first column as [max.col()] with `ties.method = "first"` breaks them) and
#'   `converged` (whether every count is within its bounds).
#' @export
#' @examples
#' # 1,000 drawings of 10 classes, the model favouring the first classes.
#' set.seed(1)
#' truth <- rep(1:10, each = 100)
#' logits <- matrix(rnorm(10000), 1000, 10) + 2 * outer(truth, 1:10, "==") +
#'   rep(seq(1, 0, length.out = 10), each = 1000)
#' p <- exp(logits) / rowSums(exp(logits))
#' table(max.col(p))
#' balanced <- balance_predictions(p)
#' attr(balanced, "counts")
#' c(before = mean(max.col(p) == truth), after = mean(max.col(balanced) == truth))
balance_predictions <- function(probabilities, target = NULL, max_iterations = 100L) {
  check_probabilities(probabilities)
  n <- nrow(probabilities)
  k <- ncol(probabilities)
  if (!is.null(target)) {
    as_argument_error(checkmate::assert_numeric(target, lower = 0, finite = TRUE,
                                                any.missing = FALSE, len = k))
    if (!is.null(names(target)) && !is.null(colnames(probabilities)) &&
        !identical(names(target), colnames(probabilities))) {
      abort_doodles("The names of `target` must be the column names of `probabilities`.",
                    kind = "argument")
    }
    if (sum(target) <= 0) abort_doodles("`target` must have a positive share.", kind = "argument")
    target <- as.numeric(target) / sum(target)
  } else {
    target <- rep(1 / k, k)
  }
  assert_count(max_iterations)
  expected <- n * target
  bounds <- list(lo = floor(expected + 1e-9), hi = ceiling(expected - 1e-9))
  storage.mode(probabilities) <- "double"
  logp <- log(probabilities)

  rounds <- quantile_rounds(logp, bounds, max_iterations)
  moved <- list(assigned = rounds$assigned, moves = 0L)
  offsets <- rounds$offsets
  if (!within_bounds(tabulate(rounds$assigned, k), bounds)) {
    logp_t <- t(logp)
    moved <- shortest_path_moves(logp_t, rounds$assigned, bounds)
  }
  if (moved$moves > 0) {
    costs <- move_costs(logp_t, moved$assigned)
    for (margin in c(1e-6, 1e-10)) {
      candidate <- offsets_for(costs, offsets, margin)
      if (is.null(candidate)) next
      top1 <- max.col(shift_columns(logp, candidate, add = TRUE), ties.method = "first")
      if (all(top1 == moved$assigned)) {
        offsets <- candidate
        break
      }
    }
  }
  result <- shift_columns(probabilities, exp(offsets - max(offsets)))
  sums <- rowSums(result)
  # Rows whose scores all underflow (offsets hundreds apart): the softmax from the logarithms.
  for (i in which(!(sums > 0 & is.finite(sums)))) {
    row <- logp[i, ] + offsets
    result[i, ] <- exp(row - max(row))
    sums[i] <- sum(result[i, ])
  }
  rm(logp)
  result <- result / sums
  dimnames(result) <- dimnames(probabilities)
  counts <- tabulate(max.col(result, ties.method = "first"), k)
  names(offsets) <- colnames(probabilities)
  names(counts) <- colnames(probabilities)
  attr(result, "offsets") <- offsets
  attr(result, "iterations") <- rounds$iterations
  attr(result, "moves") <- moved$moves
  attr(result, "counts") <- counts
  attr(result, "converged") <- within_bounds(counts, bounds)
  result
}

check_probabilities <- function(probabilities, call = rlang::caller_env()) {
  as_argument_error(checkmate::assert_matrix(probabilities, mode = "numeric", any.missing = FALSE,
                                             min.rows = 1, min.cols = 1), call = call)
  as_argument_error(checkmate::assert_numeric(probabilities, lower = 0, upper = 1), call = call)
  sums <- rowSums(probabilities)
  bad <- which(abs(sums - 1) > 1e-3)
  if (length(bad)) {
    abort_doodles(sprintf(
      "The rows of `probabilities` must sum to 1: %d do not (first: row %d, sum %s).",
      length(bad), bad[1], format(sums[bad[1]])
    ), kind = "argument", call = call)
  }
}

within_bounds <- function(counts, bounds) all(counts >= bounds$lo & counts <= bounds$hi)

# `x` with column j multiplied by (or, `add = TRUE`, increased by) `by[j]`, one column at a time
# (no n x k temporary).
shift_columns <- function(x, by, add = FALSE) {
  for (j in which(if (add) by != 0 else by != 1)) {
    x[, j] <- if (add) x[, j] + by[j] else x[, j] * by[j]
  }
  x
}

# The classes each row can plausibly move to: those within `width` of the row's best
# log-probability (a factor of about 22,000), at most `most` of them, best first, as an
# `nrow x m` matrix of log-probabilities (padded with -Inf) and one of their columns.
candidates <- function(logp, width = 10, most = 32L) {
  n <- nrow(logp)
  rows <- seq_len(n)
  best <- logp[cbind(rows, max.col(logp, ties.method = "first"))]
  keep <- which(logp >= best - width)
  row <- (keep - 1L) %% n + 1L
  column <- (keep - 1L) %/% n + 1L
  value <- logp[keep]
  rm(keep)
  by_row <- order(row, -value)
  row <- row[by_row]
  column <- column[by_row]
  value <- value[by_row]
  slot <- sequence(tabulate(row, n))
  kept <- slot <= most
  width <- max(slot[kept])
  values <- matrix(-Inf, n, width)
  columns <- matrix(rep(column[slot == 1L], width), n, width)
  values[cbind(row[kept], slot[kept])] <- value[kept]
  columns[cbind(row[kept], slot[kept])] <- column[kept]
  list(values = values, columns = columns)
}

# Phase 1: rounds of per-class steps, classes over their upper bound and classes under their
# lower bound in alternate rounds: first on the rows' candidate classes (cheap, close to the whole
# matrix for a confident model), then on the whole matrix from the offsets found. Each stage ends
# when the counts are within bounds, after `max_iterations` rounds in all, or when two rounds have
# lowered the total excess by less than a fifth (phase 2's moves are then cheaper than more
# rounds). Returns the top-1 classes of the whole matrix under the offsets (phase 2 starts there).
quantile_rounds <- function(logp, bounds, max_iterations) {
  k <- ncol(logp)
  assigned <- max.col(logp, ties.method = "first")
  if (within_bounds(tabulate(assigned, k), bounds)) {
    return(list(assigned = assigned, offsets = numeric(k), iterations = 0L))
  }
  pruned <- candidates(logp)
  pruned$entries <- split(seq_along(pruned$columns), factor(pruned$columns, levels = seq_len(k)))
  first <- round_stage(pruned, bounds, numeric(k), max_iterations)
  # Rounds over the whole matrix only where the candidates missed much (a model unsure of many
  # rows): up to twice the excess they left, phase 2 moves it faster.
  whole <- round_stage(list(values = logp), bounds, first$offsets,
                       max_iterations - first$iterations, enough = 2 * first$excess)
  whole$iterations <- first$iterations + whole$iterations
  whole
}

# Rounds on `cand`: `values` (log-probabilities) with `columns` (the class of each value) and
# `entries` (each class's positions in `values`), or the whole matrix when `columns` is NULL.
round_stage <- function(cand, bounds, offsets, max_iterations, enough = 0) {
  n <- nrow(cand$values)
  k <- length(offsets)
  rows <- seq_len(n)
  history <- integer()
  iterations <- 0L
  repeat {
    scores <- if (is.null(cand$columns)) shift_columns(cand$values, offsets, add = TRUE)
              else cand$values + offsets[cand$columns]
    slot <- cbind(rows, max.col(scores, ties.method = "first"))
    assigned <- if (is.null(cand$columns)) slot[, 2] else cand$columns[slot]
    counts <- tabulate(assigned, k)
    over <- pmax(counts - bounds$hi, 0)
    under <- pmax(bounds$lo - counts, 0)
    excess <- sum(over) + sum(under)
    if (excess <= enough || iterations >= max_iterations) break
    history <- c(history, excess)
    if (iterations >= 2L && excess > 0.8 * history[iterations - 1L]) break
    shedding <- sum(under) == 0 || (sum(over) > 0 && iterations %% 2L == 0L)
    top <- scores[slot]
    step <- numeric(k)
    if (shedding) {
      # Margin of each row over its second class; a class loses its rows of smallest margin.
      scores[slot] <- -Inf
      margin <- top - scores[cbind(rows, max.col(scores, ties.method = "first"))]
      finite <- is.finite(margin)
      order_in_class <- order(assigned, margin)
      first <- c(0L, cumsum(counts))[seq_len(k)]
      movable <- tabulate(assigned[finite], k)
      classes <- which(over > 0 & movable > 0)
      lose <- pmin(ceiling(over[classes] / 2), movable[classes])
      this <- margin[order_in_class[first[classes] + lose]]
      after <- margin[order_in_class[first[classes] + pmin(lose + 1L, counts[classes])]]
      last <- !is.finite(after) | lose == counts[classes]
      after[last] <- this[last] + 1
      step[classes] <- -(this + (after - this) / 2)
    } else {
      # Gap of each row's best score over the class's; a class wins the rows of smallest gap.
      for (j in which(under > 0)) {
        at <- if (is.null(cand$columns)) (j - 1) * n + rows else cand$entries[[j]]
        gap <- top[(at - 1) %% n + 1] - scores[at]
        gap <- gap[is.finite(gap)]
        win <- min(counts[j] + ceiling(under[j] / 2), length(gap))
        if (win <= counts[j]) next
        pair <- if (win < length(gap)) sort.int(gap, partial = c(win, win + 1L))[c(win, win + 1L)]
                else c(max(gap), max(gap) + 1)
        step[j] <- pair[1] + (pair[2] - pair[1]) / 2
      }
    }
    if (all(step == 0)) break
    offsets <- offsets + step
    iterations <- iterations + 1L
  }
  if (!is.null(cand$columns)) assigned <- NULL
  list(assigned = assigned, offsets = offsets, iterations = iterations, excess = excess)
}

# The cost of moving one drawing of class `from` to each class: the smallest loss of
# log-probability among the drawings assigned to `from` (Inf: none can), and which drawing.
# `logp_t` is the transposed log-probabilities (a class's drawings are then whole columns).
class_costs <- function(logp_t, members, from) {
  k <- nrow(logp_t)
  cost <- rep(Inf, k)
  row <- rep(NA_integer_, k)
  if (length(members)) {
    block <- logp_t[, members, drop = FALSE]
    loss <- rep(block[from, ], each = k) - block
    which_row <- max.col(-loss, ties.method = "first")
    cost <- loss[cbind(seq_len(k), which_row)]
    row <- members[which_row]
  }
  cost[from] <- Inf
  list(cost = cost, row = row)
}

move_costs <- function(logp_t, assigned) {
  k <- nrow(logp_t)
  members <- split(seq_along(assigned), factor(assigned, levels = seq_len(k)))
  costs <- lapply(seq_len(k), function(j) class_costs(logp_t, members[[j]], j))
  list(cost = do.call(rbind, lapply(costs, `[[`, "cost")),
       row = do.call(rbind, lapply(costs, `[[`, "row")), members = members)
}

# Shortest distances over the classes from `start` (a distance per class, Inf for none), with
# `cost[from, to]`; Bellman-Ford, NULL when it has not settled after `ncol` passes (a negative
# cycle).
bellman_ford <- function(cost, start) {
  k <- length(start)
  distance <- start
  previous <- rep(NA_integer_, k)
  for (pass in seq_len(k + 1L)) {
    through <- cost + distance
    from <- max.col(-t(through), ties.method = "first")
    candidate <- through[cbind(from, seq_len(k))]
    slack <- ifelse(is.finite(distance), 1e-12 * pmax(1, abs(distance)), 0)
    better <- which(candidate < distance - slack)
    if (!length(better)) return(list(distance = distance, previous = previous))
    distance[better] <- candidate[better]
    previous[better] <- from[better]
  }
  NULL
}

# Phase 2: successive shortest paths. Sources are the classes over their upper bound (or, when none
# is, those over their lower bound), sinks those under their upper bound (or lower bound); each
# move takes one drawing along the cheapest chain from a source to a sink.
shortest_path_moves <- function(logp_t, assigned, bounds) {
  k <- nrow(logp_t)
  costs <- move_costs(logp_t, assigned)
  counts <- tabulate(assigned, k)
  moves <- 0L
  repeat {
    if (any(counts > bounds$hi)) {
      sources <- counts > bounds$hi
      sinks <- counts < bounds$hi
    } else if (any(counts < bounds$lo)) {
      sources <- counts > bounds$lo
      sinks <- counts < bounds$lo
    } else {
      break
    }
    paths <- bellman_ford(costs$cost, ifelse(sources, 0, Inf))
    if (is.null(paths) || !any(sinks & is.finite(paths$distance))) break
    sink <- which(sinks)[which.min(paths$distance[sinks])]
    chain <- sink
    while (!is.na(paths$previous[chain[1]]) && length(chain) <= k) {
      chain <- c(paths$previous[chain[1]], chain)
    }
    if (length(chain) > k || !sources[chain[1]]) break
    from <- chain[-length(chain)]
    to <- chain[-1]
    moving <- costs$row[cbind(from, to)]
    assigned[moving] <- to
    for (step in seq_along(moving)) {
      costs$members[[from[step]]] <- setdiff(costs$members[[from[step]]], moving[step])
      costs$members[[to[step]]] <- c(costs$members[[to[step]]], moving[step])
    }
    for (j in chain) {
      updated <- class_costs(logp_t, costs$members[[j]], j)
      costs$cost[j, ] <- updated$cost
      costs$row[j, ] <- updated$row
    }
    counts[chain[1]] <- counts[chain[1]] - 1L
    counts[sink] <- counts[sink] + 1L
    moves <- moves + 1L
  }
  list(assigned = assigned, moves = moves)
}

# Phase 3: the largest offsets at most `start` under which every drawing prefers its assigned
# class by `margin`: offset[to] <= offset[from] + cost[from, to] - margin for every move.
offsets_for <- function(costs, start, margin) {
  paths <- bellman_ford(costs$cost - margin, start)
  if (is.null(paths) || !all(is.finite(paths$distance))) return(NULL)
  paths$distance
}
