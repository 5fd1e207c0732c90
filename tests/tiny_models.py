"""Tiny models built offline, in a few seconds, for tests of the real model code paths.

They have random weights: their scores mean nothing. They let a test load, tokenise, window and
score through FlagEmbedding and sentence-transformers without downloading anything.
"""

from __future__ import annotations

from pathlib import Path

COOKING = (
    "Whisk the eggs with sugar until pale, fold in the flour and bake the sponge for twenty "
    "minutes at one hundred and eighty degrees. "
)
DATABASE = (
    "Set max_wal_senders and wal_level on the primary server so that the standby can stream "
    "the write-ahead log for replication. "
)
TINY_BGE_M3_MAX_LENGTH = 64  # tokens per window, special tokens included: small, so windowing runs


def build_tiny_bge_m3(path: Path) -> Path:
    """An XLM-R shaped model (hidden 32, 2 layers) with a tokenizer trained offline here and the
    colbert/sparse heads FlagEmbedding's BGEM3FlagModel loads beside it. Returns `path`."""
    import torch
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    unigram = SentencePieceUnigramTokenizer()
    unigram.train_from_iterator(
        [COOKING, DATABASE, "Café au lait, asyncio.Queue, XJ-220."] * 10,
        vocab_size=200,
        special_tokens=specials,
        unk_token="<unk>",
        show_progress=False,
    )
    tokenizer = XLMRobertaTokenizerFast(
        tokenizer_object=unigram,
        bos_token="<s>",
        cls_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=TINY_BGE_M3_MAX_LENGTH,
    )
    tokenizer.save_pretrained(path)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=TINY_BGE_M3_MAX_LENGTH + 2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    XLMRobertaModel(config).save_pretrained(path)
    torch.save(torch.nn.Linear(32, 32).state_dict(), path / "colbert_linear.pt")
    torch.save(torch.nn.Linear(32, 1).state_dict(), path / "sparse_linear.pt")
    return path


def build_tiny_cross_encoder(path: Path) -> Path:
    """A BERT sequence classifier (hidden 32, 2 layers, one label) with the packaged MiniLM
    tokenizer: a cross-encoder both FlagReranker and CrossEncoder load. Returns `path`."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from retrieval.embedders import minilm_path

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()), local_files_only=True)
    tokenizer.save_pretrained(path)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(path)
    return path


TINY_LLAMA_CONTEXT = 1024  # tokens: the model's positions, and vLLM's --max-model-len
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}"
    "\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def english_corpus(max_chars: int = 3_000_000) -> list[str]:
    """English-heavy text found offline: the docstrings and comments of Python's standard
    library (the interpreter's own files), plus the bundled samples."""
    import sysconfig

    texts: list[str] = []
    total = 0
    samples = Path(__file__).parents[1] / "samples"
    for path in [
        *sorted(samples.glob("*")),
        *sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")),
    ]:
        text = path.read_text(errors="ignore")
        texts.append(text)
        total += len(text)
        if total >= max_chars:
            break
    return texts


def build_tiny_llama(path: Path, *, vocab_size: int = 8000) -> Path:
    """A random Llama (hidden 128, 2 layers, head size 64) that vLLM serves, with a byte-level
    BPE tokenizer trained here (any text encodes; ~3-4 characters per token on English) and a
    chat template. Its answers are noise; its serving path is real. Returns `path`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(english_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=TINY_LLAMA_CONTEXT,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=TINY_LLAMA_CONTEXT,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(path)
    return path
