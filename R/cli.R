# Command-line parsing for the scripts in inst/bin (train_nn.R, predict.R): options converted and
# checked, clean one-line errors and exit statuses. Exported so that a user's own script can reuse them.

#' Run a command-line script's main function
#'
#' Parses the arguments against a [docopt](http://docopt.org/) usage text, prints the text for
#' `-h`/`--help`, and runs `main` with the parsed options. Any error (a bad option, a missing
#' folder, a failure in Keras) is printed as one clean message on stderr instead of R's traceback.
#' Scripts end with `quit(status = run_cli(doc, main))`, so that the exit status is 0 on success
#' and 1 on any error.
#'
#' @param doc The usage text (docopt's format). Its first usage line names the script.
#' @param main A function of one argument, the parsed options (a named list as [docopt::docopt()]
#'   returns it, names like `"--batch-size"`).
#' @param args The command-line arguments.
#' @return The exit status, invisibly: 0 on success (or after `--help`), 1 on error.
#' @seealso [cli_option()] to convert and check one option.
#' @export
run_cli <- function(doc, main, args = commandArgs(trailingOnly = TRUE)) {
  assert_string(doc)
  assert_function(main)
  assert_character(args, any.missing = FALSE)
  script <- cli_script_name(doc)
  status <- tryCatch(
    {
      if (any(args %in% c("-h", "--help"))) {
        cat(doc, sep = "\n")
      } else {
        main(cli_parse(doc, args, script))
      }
      0L
    },
    error = function(e) {
      cat(sprintf("%s: error: %s\n", script, cli_error_text(e)), file = stderr())
      1L
    }
  )
  invisible(status)
}

#' Convert and check one command-line option
#'
#' docopt gives every option as a string; this turns one into the type the script needs and stops
#' with a message naming the option and the value when it does not fit.
#'
#' @param opts The parsed options (see [run_cli()]).
#' @param name The option's long name without dashes, e.g. `"batch-size"`.
#' @param type One of `"string"`, `"count"` (a whole number), `"number"` or `"flag"`.
#' @param lower,upper Bounds (inclusive) for `"count"` and `"number"`.
#' @param choices For `"string"`: the allowed values.
#' @param optional If `TRUE`, an option that was not given (and has no default) gives `NULL`.
#' @return The value: a string, an integer, a double or a logical flag.
#' @export
cli_option <- function(opts, name, type = c("string", "count", "number", "flag"),
                       lower = -Inf, upper = Inf, choices = NULL, optional = FALSE) {
  assert_list(opts, names = "named")
  assert_string(name)
  type <- arg_choice(type, c("string", "count", "number", "flag"))
  key <- paste0("--", name)
  if (!key %in% names(opts)) {
    abort_doodles(sprintf("the script has no option %s", key), kind = "usage")
  }
  value <- opts[[key]]
  if (type == "flag") {
    return(isTRUE(value))
  }
  if (is.null(value) || (is.character(value) && !nzchar(value))) {
    if (optional) {
      return(NULL)
    }
    abort_doodles(sprintf("option %s is required", key), kind = "usage")
  }
  bad <- function(what) {
    abort_doodles(sprintf("option %s must be %s, not '%s'", key, what, value), kind = "usage")
  }
  range_text <- function() {
    if (is.finite(lower) && is.finite(upper)) {
      sprintf(" between %s and %s", format(lower), format(upper))
    } else if (is.finite(lower)) {
      sprintf(" >= %s", format(lower))
    } else if (is.finite(upper)) {
      sprintf(" <= %s", format(upper))
    } else {
      ""
    }
  }
  switch(type,
    string = {
      if (!is.null(choices) && !value %in% choices) {
        bad(paste0("one of ", paste0("'", choices, "'", collapse = ", ")))
      }
      value
    },
    count = {
      number <- suppressWarnings(as.numeric(value))
      if (is.na(number) || number != round(number) || number < lower || number > upper) {
        bad(paste0("a whole number", range_text()))
      }
      as.integer(number)
    },
    number = {
      number <- suppressWarnings(as.numeric(value))
      if (is.na(number) || number < lower || number > upper) {
        bad(paste0("a number", range_text()))
      }
      number
    }
  )
}

cli_script_name <- function(doc) {
  name <- regmatches(doc, regexpr("(?<=Usage:)\\s*\\S+", doc, perl = TRUE))
  if (length(name) == 0L) "script" else trimws(name)
}

# docopt's own error is the whole usage text; this names the argument it could not match.
cli_parse <- function(doc, args, script) {
  if (!requireNamespace("docopt", quietly = TRUE)) {
    abort_doodles("the R package docopt is needed for the scripts: apt-get install r-cran-docopt",
      kind = "dependency"
    )
  }
  tryCatch(
    docopt::docopt(doc, args = args, help = FALSE, strict = TRUE),
    error = function(e) {
      known <- unique(regmatches(doc, gregexpr("(?<![\\w-])--?[A-Za-z][\\w-]*", doc, perl = TRUE))[[1]])
      given <- sub("=.*$", "", args[startsWith(args, "-")])
      given <- ifelse(startsWith(given, "--"), given, substr(given, 1L, 2L))
      unknown <- setdiff(given, known)
      what <- if (length(unknown) > 0L) {
        sprintf("unknown option %s", paste0("'", unknown, "'", collapse = ", "))
      } else {
        sprintf("bad arguments '%s' (an option without its value, or a stray word?)",
          paste(args, collapse = " "))
      }
      abort_doodles(sprintf("%s. Run '%s --help' to see the options.", what, script),
        kind = "usage", call = NULL
      )
    }
  )
}

cli_error_text <- function(e) {
  message <- conditionMessage(e)
  # Python errors come through reticulate with the whole traceback; the last line says what failed.
  if (inherits(e, "python.builtin.BaseException") || grepl("^Python|Traceback", message)) {
    lines <- strsplit(trimws(message), "\n", fixed = TRUE)[[1]]
    message <- lines[length(lines)]
  }
  message
}

#' The database file in a database folder
#'
#' The scripts take a database folder (`-d/--db-dir`, or the environment variable `DBDIR`), as the
#' article's MonetDBLite did and as the Docker image mounts it; the DuckDB database is one file in it.
#'
#' @param db_dir The database folder.
#' @return The path of the database file, for `DBI::dbConnect(doodles_duckdb(), dbdir = ...)`.
#' @export
#' @examples
#' db_file_in(tempdir())
db_file_in <- function(db_dir) {
  assert_string(db_dir, min.chars = 1L)
  file.path(db_dir, "doodles.duckdb")
}
