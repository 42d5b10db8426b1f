#!/usr/bin/env bash
# On the GPU host: start SGLang detached (it outlives the calling shell) on 127.0.0.1:30000 with
# dummy weights shaped like DeepSeek-R1-Distill-Qwen-7B, and wait until it answers.
# TP=2 bash launch.sh for two GPUs. Its log is /tmp/sgl.log, its process id /tmp/sgl.pid.
#
# The server holds none of this script's descriptors: stdin, stdout and stderr go to /dev/null
# and the log, every other inherited descriptor is closed, and it runs in its own session. A
# caller that pipes this script (`launch.sh | tail`) gets its end of file when the script exits.
export PYTHONPATH=/tmp/site NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
TP=${TP:-1}
FLAGS=(--model-path /tmp/model --load-format dummy --tp-size "$TP" --reasoning-parser deepseek-r1
  --host 127.0.0.1 --port 30000 --context-length 32768 --sampling-backend pytorch
  --mem-fraction-static 0.8 --enable-metrics --max-queued-requests 24)
echo "sglang.launch_server ${FLAGS[*]}" >/tmp/sgl.flags
cd /tmp || exit 1
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null; fi
done
# A plain command run in the background (no subshell around it), so nothing else waits on it.
setsid python3 -m sglang.launch_server "${FLAGS[@]}" </dev/null >/tmp/sgl.log 2>&1 &
echo $! >/tmp/sgl.pid
disown
for i in $(seq 1 120); do
  if curl -sf http://127.0.0.1:30000/v1/models >/dev/null 2>&1; then echo "SGLang up after $((i * 2)) s"; exit 0; fi
  if ! kill -0 "$(cat /tmp/sgl.pid)" 2>/dev/null; then break; fi
  sleep 2
done
echo "SGLang did not start"; tail -40 /tmp/sgl.log; exit 1
