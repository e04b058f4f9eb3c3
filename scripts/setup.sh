#!/usr/bin/env bash
# Makes a fresh Debian 12 machine ready for MLNetDeep, and is a fast no-op when it already is.
#  1. libstdc++ with GLIBCXX_3.4.32 (TorchSharp 0.107's native library needs GCC 13+'s runtime;
#     Debian 12 ships GLIBCXX_3.4.30). Taken from Debian 13 (trixie) through a temporary apt source.
#  2. the Fashion-MNIST data set (Debian package dataset-fashion-mnist).
#  3. ONNX's conformance data (Debian package libonnx-testdata), for the ONNX reader and importer tests.
#  4. CMUdict, the grapheme-to-phoneme data of the sequence-to-sequence tests (Debian package pocketsphinx-en-us).
#  5. onnx's checker (python3-onnx) and the English and German word lists (wamerican, wngerman), for the
#     whole-pipeline ONNX export tests (real text; the checker test is skipped without python3-onnx).
#  6. R's mlbench tables (Debian package r-cran-mlbench: LetterRecognition, BostonHousing, ...), for the MLP tests,
#     the tabular benchmark and samples/TabularMlp.
#  7. real clip art in category folders (openclipart-png), the image files of the pretrained-backbone tests.
set -euo pipefail

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET SDK (dotnet, version 10) is required: https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 1
fi

need_apt_update=1
apt_update_once() {
  if [ "$need_apt_update" = 1 ]; then apt-get update -qq; need_apt_update=0; fi
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# awk reads to the end (no early exit): with pipefail, an exit before ldconfig finishes writing fails the line with SIGPIPE (rc 141)
libstdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found = 1}')
libstdcxx=${libstdcxx:-/lib/x86_64-linux-gnu/libstdc++.so.6}
if ! grep -q GLIBCXX_3.4.32 "$libstdcxx" 2>/dev/null; then
  echo "setup: $libstdcxx lacks GLIBCXX_3.4.32; installing libstdc++6 from Debian 13 (trixie)"
  src=/etc/apt/sources.list.d/mlnetdeep-trixie.list
  as_root sh -c "echo 'deb http://deb.debian.org/debian trixie main' > $src"
  # keep trixie from upgrading anything else on later apt runs
  as_root sh -c "printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/mlnetdeep-trixie"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq -t trixie libstdc++6 >/dev/null
  as_root rm -f "$src"
  as_root apt-get update -qq
  need_apt_update=0
  grep -q GLIBCXX_3.4.32 "$libstdcxx" || { echo "setup: libstdc++ still lacks GLIBCXX_3.4.32" >&2; exit 1; }
fi

# The real data the tests, samples and benchmarks read, and ONNX's checker: one apt run for whatever is missing.
missing=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)   # Fashion-MNIST
[ -d /usr/share/libonnx-testdata/data/node ] || missing+=(libonnx-testdata)                               # ONNX's operator tests
[ -f /usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict ] || missing+=(pocketsphinx-en-us)            # CMUdict (seq2seq)
[ -f /usr/lib/R/site-library/mlbench/data/LetterRecognition.rda ] || missing+=(r-cran-mlbench)            # tabular sets (MLP)
[ -f /usr/share/dict/american-english ] || missing+=(wamerican)                                           # word lists (text pipelines)
[ -f /usr/share/dict/ngerman ] || missing+=(wngerman)
[ -d /usr/share/openclipart/png ] || missing+=(openclipart-png)                                           # clip art (backbones)
/usr/bin/python3 -c "import onnx" >/dev/null 2>&1 || missing+=(python3-onnx)                              # onnx's full checker
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: ready (libstdc++ GLIBCXX_3.4.32, Fashion-MNIST in /usr/share/datasets/fashion-mnist, ONNX test data in /usr/share/libonnx-testdata, CMUdict in /usr/share/pocketsphinx/model/en-us, python3-onnx, word lists in /usr/share/dict, mlbench tables in /usr/lib/R/site-library/mlbench/data, clip art in /usr/share/openclipart/png)"
