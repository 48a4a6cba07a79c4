#!/usr/bin/env bash
# Installs what doodles needs on a Debian machine and skips what is already there:
# R and the R packages (Debian's r-cran-*), a Rust toolchain check, and the Python environment
# for Keras (see doodles::install_keras_env()). Run by `make demo` and `make test`.
set -euo pipefail

r_packages="r-base-dev r-cran-checkmate r-cran-cli r-cran-dbi r-cran-rlang r-cran-testthat
  r-cran-dbitest r-cran-rsqlite r-cran-docopt r-cran-reticulate r-cran-png r-cran-roxygen2
  r-cran-devtools r-cran-knitr r-cran-rmarkdown r-cran-bench r-cran-withr r-cran-processx
  r-cran-callr r-cran-data.table r-cran-zip python3-venv zip unzip
  r-cran-shiny r-cran-jsonlite chromium chromium-driver"

missing=()
for pkg in $r_packages; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages already installed"
fi

export PATH="$PATH:$HOME/.cargo/bin"
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: Rust is missing; install it from https://rustup.rs (Debian's rustc is too old)" >&2
  exit 1
fi
echo "setup: $(cargo --version)"
# `make lint` (part of `make test`) runs rustfmt and clippy: rustup's components.
for tool in rustfmt clippy; do
  if ! cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$tool"
  fi
done

# Python Keras for the Keras tests and examples, as doodles::install_keras_env() makes it. Without
# it (e.g. no access to PyPI) the tests that need Keras are skipped, so a failure here only warns.
venv=${DOODLES_VENV:-$HOME/.cache/doodles/venv}
keras_probe="import keras, numpy; assert int(numpy.__version__.split('.')[0]) < 2"
if "$venv/bin/python" -c "$keras_probe" >/dev/null 2>&1; then
  echo "setup: Keras environment ready in $venv"
else
  echo "setup: installing the Keras environment into $venv (about a minute, 1.6 GB)"
  if ! { python3 -m venv "$venv" &&
         "$venv/bin/python" -m pip install --quiet -r "$(dirname "$0")/../inst/python/requirements.txt"; }; then
    echo "setup: WARNING: could not install the Keras environment; Keras tests will be skipped" >&2
  fi
fi

# Keras 2 (PyPI's tf_keras) for the legacy R keras package's tests (tests/testthat/test-keras-legacy.R),
# as doodles::install_keras_env(legacy = TRUE) adds it (see inst/python/requirements-legacy.txt).
if "$venv/bin/python" -c "import keras" >/dev/null 2>&1 && ! "$venv/bin/python" -c "import tf_keras" >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --no-deps -r "$(dirname "$0")/../inst/python/requirements-legacy.txt" ||
    echo "setup: WARNING: could not install tf_keras; the legacy keras test will be skipped" >&2
fi

# OpenCV for Python, for the test that compares the lines with the article's OpenCV picture
# (tests/testthat/test-draw-opencv.R), not for users; 4.10 is the last release built against
# numpy < 2, which Debian's reticulate needs.
if "$venv/bin/python" -c "import numpy" >/dev/null 2>&1 && ! "$venv/bin/python" -c "import cv2" >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet "opencv-python-headless==4.10.0.84" ||
    echo "setup: WARNING: could not install OpenCV; the OpenCV comparison test will be skipped" >&2
fi

# Selenium for the browser test of the drawing page (tests/testthat/test-app-browser.R), which
# drives Debian's chromium through chromium-driver; not for users, who need no browser driver.
# 4.51.0: 4.52.0 requires a certifi newer than the registry has.
if "$venv/bin/python" -c "import keras" >/dev/null 2>&1 && ! "$venv/bin/python" -c "import selenium" >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet "selenium==4.51.0" ||
    echo "setup: WARNING: could not install selenium; the browser test will be skipped" >&2
fi

# The R Keras stack Debian lacks (keras3, keras, tensorflow and a reticulate newer than Debian's),
# in a library of its own for tests/testthat/test-keras3.R, so that the rest keeps Debian's
# reticulate. Its source packages come with the workplace (shared/r-packages, beside the checkout);
# without them those tests are skipped.
r_keras=${DOODLES_R_KERAS_LIB:-$HOME/.cache/doodles/r-keras}
root=$(cd "$(dirname "$0")/.." && pwd)
installer=""
for candidate in "${DOODLES_R_PACKAGES:-}" "$root/../shared/r-packages" "/work/shared/r-packages"; do
  if [ -n "$candidate" ] && [ -f "$candidate/install.sh" ]; then installer="$candidate/install.sh"; break; fi
done
if [ -d "$r_keras/keras3" ] && [ -d "$r_keras/reticulate" ]; then
  echo "setup: R keras3 ready in $r_keras"
elif [ -n "$installer" ]; then
  echo "setup: installing the R Keras stack into $r_keras (about 80 s)"
  bash "$installer" "$r_keras" >/dev/null || echo "setup: WARNING: the R Keras stack did not install; keras3 tests will be skipped" >&2
else
  echo "setup: no shared/r-packages found: the keras3 tests will be skipped"
fi
