# The workers' agreement: every worker of a multi-worker training checks, before training, that all
# train on the same data with the same settings.

#' Check that all workers train on the same data with the same settings
#'
#' Each worker of a multi-worker training (see [training_strategy()]) opens its own copy of the
#' database and is started with its own options. Before training, every worker calls this with
#' what must be the same everywhere, typically `database = database_fingerprint(con)` and the
#' training options; the values are exchanged through TensorFlow's coordination service, and on
#' any difference every worker stops with the same error, naming what differs and on which
#' workers, before any training step.
#'
#' @param devices The result of [training_strategy()]; alone (one worker) there is nothing to
#'   check.
#' @param ... Named values, each turned into one string (`format()`ed and pasted), e.g.
#'   `database = database_fingerprint(con)`, `"--batch-size" = 32`.
#' @return `TRUE` invisibly, when all workers agree.
#' @export
#' @examples
#' # Alone, there is nothing to compare with:
#' check_workers_agree(list(n_workers = 1L), database = "3,000 rows", batch_size = 32)
#' \dontrun{
#' devices <- training_strategy(workers = c("a.example.org:2222", "b.example.org:2222"),
#'                              worker_index = 0)
#' check_workers_agree(devices, database = database_fingerprint(con), batch_size = 256)
#' }
check_workers_agree <- function(devices, ...) {
  assert_list(devices)
  facts <- list(...)
  assert_list(facts, names = "unique", min.len = 1)
  if (is.null(devices$n_workers) || devices$n_workers <= 1L) {
    return(invisible(TRUE))
  }
  # Each part of a composite fact (the database's rows and hashes, a list's entries) is compared
  # on its own, so that the message names only the parts that differ.
  texts <- unlist(unname(Map(fact_parts, names(facts), facts)))
  texts <- gsub("[\r\n\t]+", " ", texts)
  mine <- paste(names(texts), texts, sep = "\t", collapse = "\n")
  everyone <- unlist(bridge_py()$exchange_among_workers(devices$strategy, "agree", mine))
  parsed <- lapply(strsplit(everyone, "\n", fixed = TRUE), function(lines) {
    parts <- regmatches(lines, regexpr("\t", lines, fixed = TRUE), invert = TRUE)
    values <- vapply(parts, `[`, "", 2L)
    names(values) <- vapply(parts, `[`, "", 1L)
    values
  })
  differences <- character()
  for (name in names(texts)) {
    values <- vapply(parsed, function(p) if (name %in% names(p)) p[[name]] else "(not given)", "")
    if (length(unique(values)) > 1L) {
      differ <- which(values != values[1]) - 1L
      differences <- c(differences, sprintf(
        "%s: worker 0 has %s; %s", name, values[1],
        paste(sprintf("worker %d has %s", differ, values[differ + 1L]), collapse = "; ")
      ))
    }
  }
  if (length(differences) > 0L) {
    abort_doodles(paste0(
      "The workers differ, so none starts training. ", paste(differences, collapse = ". "),
      ". Every worker needs a copy of the same database and the same options."
    ), kind = "workers")
  }
  invisible(TRUE)
}

# A fact of check_workers_agree() as named strings: one, or one per part of a database
# fingerprint or of a list.
fact_parts <- function(name, value) {
  if (inherits(value, "doodles_fingerprint")) {
    parts <- fingerprint_parts(value)
    return(stats::setNames(parts, paste(name, names(parts))))
  }
  if (is.list(value) && !is.object(value)) {
    return(stats::setNames(vapply(value, function(v) paste(format(v), collapse = " "), ""),
                           paste(name, names(value))))
  }
  stats::setNames(paste(format(value), collapse = " "), name)
}
