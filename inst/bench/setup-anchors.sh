#!/usr/bin/env bash
# Installs what the anchors of bench-raster.R need, for the benchmark only (the package does not
# use them): Debian's OpenCV and nlohmann-json for the article's C++ design, and a Python venv
# with opencv-python-headless and numpy for the Kaggle kernels' way. Then builds the C++ anchor.
# Usage: bash inst/bench/setup-anchors.sh [anchors dir] [work dir]
set -euo pipefail
anchors=${1:-${DOODLES_ANCHORS:-../shared/bench/anchors}}
work=${2:-${DOODLES_BENCH_DIR:-$HOME/.cache/doodles/bench}}
mkdir -p "$work"
sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
if ! pkg-config --exists opencv4 2>/dev/null || [ ! -d /usr/include/nlohmann ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    libopencv-dev nlohmann-json3-dev pkg-config g++
fi
g++ -O2 -o "$work/opencv_cpp" "$anchors/opencv_cpp.cpp" $(pkg-config --cflags --libs opencv4)
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
"$work/venv/bin/python" -c "import cv2, numpy" 2>/dev/null ||
  "$work/venv/bin/pip" install -q opencv-python-headless numpy
echo "anchors ready in $work"
