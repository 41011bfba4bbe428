#!/usr/bin/env bash
# Installs everything im2markup needs on a fresh Debian machine (run as root), then runs the
# main job: predict the LaTeX of the example images with the bundled model.
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN_PACKAGES=(
  texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended
  texlive-xetex ghostscript dvipng poppler-utils chromium
  fonts-dkg-handwriting fonts-breip fonts-bwht fonts-femkeklaver fonts-humor-sans fonts-rufscript
)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# The CPU build of PyTorch first, so that no dependency pulls a CUDA build.
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e '.[dev]'

# KaTeX and MathJax for the web-typeset renders, at the versions package-lock.json pins.
if ! command -v npm >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
.venv/bin/python -c 'from im2markup.data.render.web import ensure_assets; print(ensure_assets())'

if [ "${1:-}" != "--no-demo" ]; then
  .venv/bin/im2markup predict examples/
fi
