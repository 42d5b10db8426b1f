#!/usr/bin/env bash
# On the GPU host: join the parts copied to /tmp/acc (see prepare.sh), install every wheel into
# /tmp/site (use with PYTHONPATH=/tmp/site), put sglang-kernel's flash-attention library back and
# lay out the dummy model in /tmp/model.
set -euo pipefail
ACC=${ACC:-/tmp/acc}
cd "$ACC"
mkdir -p bundle && cat part* | tar -x -C bundle && rm -f part*
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
  bundle/wheels/*.whl 2>&1 | grep -v "^WARNING: Target directory" || true
PYTHONPATH=/tmp/site python3 - <<'PY'
import zstandard
with open("/tmp/acc/bundle/flash_ops.abi3.so.zst", "rb") as src, \
        open("/tmp/site/sgl_kernel/flash_ops.abi3.so", "wb") as dst:
    zstandard.ZstdDecompressor(max_window_size=2**31).copy_stream(src, dst)
PY
rm -rf /tmp/model && cp -r bundle/model /tmp/model
ls /tmp/model && du -sh /tmp/site
