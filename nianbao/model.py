"""Build, save and load the character token classifier, and predict spans on whole reports.

The default model is a small `BertForTokenClassification` trained from scratch on characters.
Its tokenizer is a plain `tokenizers` pipeline saved as `tokenizer.json` (one token per
character, whitespace kept as `▁`), so `AutoTokenizer.from_pretrained(dir)` and
`AutoModelForTokenClassification.from_pretrained(dir)` load the saved directory with no
project code. (`BertTokenizerFast` in transformers 5 rebuilds its own pre-tokenizer on load,
which groups digits into words and drops whitespace; a character tagger cannot use that.)

Rule features: with `rule_features` on (the default config), the rule pre-annotator's tag of
each character is a second input, fed through BERT's token-type embeddings (one type per BIO
tag). The model then learns where the annotators differ from the rules instead of learning
numerals from scratch on a few dozen reports. The flag is stored in config.json
(`nianbao_rule_features`); a plain `AutoModelForTokenClassification` still loads the model,
and a caller passes `token_type_ids` from `rule_tag_ids` (all zeros = "no rule tag").

Pretrained encoders keep their own tokenizers; labels and predictions go between characters
and tokens through the fast tokenizer's offset mapping in `align_labels_to_tokens` and
`token_probs_to_char_probs`, so every character gets a tag whatever the tokenizer does.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .chunking import StreamingStitcher, make_windows, stitch
from .labels import BIO_TAGS, id2label, label2id
from .memory import EveryNth, release
from .spans import Span, bio_to_spans

if TYPE_CHECKING:  # heavy imports only where they are used
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
SPACE_TOKEN = "▁"
IGNORE_INDEX = -100
META_FILE = "nianbao_model.json"


def simplified(text: str) -> str:
    """The Simplified view of `text` (same length), so Traditional reports share the vocabulary."""
    from .normalise import simplified_view

    return simplified_view(text)


# --------------------------------------------------------------------------- vocabulary


def common_cjk_chars() -> list[str]:
    """The 6,763 characters of GB2312 (level 1 and 2): the common Simplified set, read from the codec."""
    chars = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def build_vocab(texts: Iterable[str], min_freq: int = 1, add_common_cjk: bool = True) -> list[str]:
    """Vocabulary of single characters: special tokens, the training characters, then common CJK."""
    counts: dict[str, int] = {}
    for text in texts:
        for ch in simplified(text):
            if not ch.isspace():
                counts[ch] = counts.get(ch, 0) + 1
    seen = set(SPECIAL_TOKENS) | {SPACE_TOKEN}
    vocab = list(SPECIAL_TOKENS) + [SPACE_TOKEN]
    extra = [chr(c) for c in range(0x21, 0x7F)] + [chr(c) for c in range(0xFF01, 0xFF5F)]
    extra += list("、。，；：？！“”‘’（）《》〔〕【】—…·％")
    frequent = sorted((ch for ch, n in counts.items() if n >= min_freq), key=lambda ch: (-counts[ch], ch))
    pool = frequent + extra + (common_cjk_chars() if add_common_cjk else [])
    for ch in pool:
        if ch not in seen:
            seen.add(ch)
            vocab.append(ch)
    return vocab


def make_char_tokenizer(vocab: Sequence[str]) -> "PreTrainedTokenizerFast":
    """A fast tokenizer that gives one token per character and keeps whitespace as `▁`."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    ids = {tok: i for i, tok in enumerate(vocab)}
    core = Tokenizer(models.WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=4))
    core.normalizer = normalizers.Replace(Regex(r"\s"), SPACE_TOKEN)
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"],
    )


def load_tokenizer(path: str | Path) -> "PreTrainedTokenizerFast":
    """A fast tokenizer from a directory or hub name; slow tokenizers have no offsets, so they are refused."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    if not getattr(tok, "is_fast", False):
        raise ValueError(f"{path}: the tokenizer is not a fast tokenizer; offsets are needed to align labels")
    return tok


# --------------------------------------------------------------------------- model


def uses_rule_features(config: Any) -> bool:
    """Whether a model was trained with the rule pre-annotator's tags as token types."""
    return bool(getattr(config, "nianbao_rule_features", False))


def rule_tag_ids(text: str) -> np.ndarray:
    """The rule pre-annotator's BIO tag id for every character of `text` (0 = O), as small integers:
    one byte a character, so a 20 MB report's tags stay small."""
    from .rules import annotate_once

    ids = np.zeros(len(text), dtype=np.int8)
    for span in sorted(annotate_once(text).spans, key=lambda s: s.start):
        if span.start < 0 or span.end > len(text) or span.start >= span.end:
            raise ValueError(f"rule span {span.start}-{span.end} outside text of length {len(text)}")
        if ids[span.start:span.end].any():
            raise ValueError(f"rule span {span.start}-{span.end} ({span.label}) overlaps another span")
        ids[span.start] = label2id[f"B-{span.label}"]
        ids[span.start + 1:span.end] = label2id[f"I-{span.label}"]
    return ids


def token_type_ids_for(offsets: Sequence[tuple[int, int]] | np.ndarray, char_type_ids: Sequence[int]) -> list[int]:
    """Per-token type ids from per-character ones: a token takes its first character's id (0 for special tokens)."""
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    chars = np.asarray(char_type_ids, dtype=np.int64)
    real = offsets[:, 1] > offsets[:, 0]
    types = np.zeros(len(offsets), dtype=np.int64)
    types[real] = chars[offsets[real, 0]]
    return types.tolist()


def build_model(cfg: Any, vocab_size: int | None = None) -> "PreTrainedModel":
    """A token classifier with the project's labels: from `cfg.model_name_or_path`, or a fresh BertConfig.

    `cfg` is the model section of the training config (see `nianbao.train.ModelConfig`).
    """
    from transformers import AutoModelForTokenClassification, BertConfig, BertForTokenClassification

    labels = {"num_labels": len(BIO_TAGS), "id2label": dict(id2label), "label2id": dict(label2id)}
    if cfg.model_name_or_path:
        return AutoModelForTokenClassification.from_pretrained(
            str(cfg.model_name_or_path), ignore_mismatched_sizes=True, **labels
        )
    if vocab_size is None:
        raise ValueError("building a model from a config needs the vocabulary size")
    rule_features = bool(getattr(cfg, "rule_features", False))
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_position_embeddings,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
        type_vocab_size=len(BIO_TAGS) if rule_features else 1,
        pad_token_id=0,
        nianbao_rule_features=rule_features,
        **labels,
    )
    return BertForTokenClassification(config)


def check_label_set(config: Any, where: str) -> None:
    """Refuse a model whose labels differ from `nianbao.labels`: its predictions would be mislabelled."""
    found = {int(k): v for k, v in dict(config.id2label).items()}
    if found != dict(id2label):
        raise ValueError(
            f"{where}: the model's labels {sorted(found.values())} differ from the project's {list(BIO_TAGS)}; "
            "retrain it with this version of nianbao"
        )


# --------------------------------------------------------------------------- characters <-> tokens


def align_labels_to_tokens(offsets: Sequence[tuple[int, int]], char_tags: Sequence[str]) -> list[int]:
    """Label id per token from character BIO tags, through the tokenizer's offset mapping.

    A token takes the tag of its first character (with one token per character that is the
    character's own tag). Special tokens get -100 so the loss ignores them; characters no
    token covers (whitespace a pretrained tokenizer drops) get no label and are `O` at
    prediction time (`token_probs_to_char_probs`).
    """
    ids: list[int] = []
    for start, end in offsets:
        if end <= start:
            ids.append(IGNORE_INDEX)
            continue
        ids.append(label2id[char_tags[start]])
    return ids


def token_probs_to_char_probs(offsets: Sequence[tuple[int, int]] | np.ndarray, probs: np.ndarray, n_chars: int) -> np.ndarray:
    """Per-character probabilities from per-token ones.

    Characters no token covers (whitespace a tokenizer dropped) are `O`. Characters after
    the first inside a multi-character token move their B- mass to I-, so the token's
    entity continues over them.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    out = np.zeros((n_chars, probs.shape[1]), dtype=np.float32)
    out[:, label2id["O"]] = 1.0
    real = offsets[:, 1] > offsets[:, 0]
    out[offsets[real, 0]] = probs[: len(offsets)][real]
    for t in np.flatnonzero(offsets[:, 1] - offsets[:, 0] > 1):  # multi-character tokens (pretrained tokenizers)
        start, end = offsets[t]
        inner = probs[t].copy()
        for tag, i in label2id.items():
            if tag.startswith("B-"):
                inner[label2id["I-" + tag[2:]]] += inner[i]
                inner[i] = 0.0
        out[start + 1 : end] = inner
    return out


def encode_texts(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> dict[str, np.ndarray]:
    """Tokenise window texts with offsets, truncating at the model's position limit, as padded arrays.

    Lists are turned into arrays here: asking the tokenizer for NumPy tensors is three times
    slower on character windows (it flattens every offset pair in Python).
    """
    enc = tokenizer(list(texts), return_offsets_mapping=True, truncation=True, max_length=max_tokens, padding=True)
    return {key: np.asarray(enc[key]) for key in ("input_ids", "attention_mask", "offset_mapping")}


class CharIds:
    """The ids of a tokenizer that makes one token of every character, looked up character by character.

    The project's character tokenizer (`make_char_tokenizer`) gives each character its own token,
    whatever surrounds it, so a window's ids are its characters' ids: each distinct character is
    asked of the tokenizer once and remembered. Encoding windows this way is several times faster
    than calling the tokenizer, which was a fifth of the forward pass's time
    (bench/infer_speed.py). `for_tokenizer` gives None for any other tokenizer (a WordPiece
    vocabulary with whole-word tokens), which is then called as usual.
    """

    PROBE = "本年度收到申请2023件, ab12 c\t\n\u3000①½（二）〇"
    LIMIT = 200_000  # characters remembered; past it the table starts again (a junk file of rare ones)

    def __init__(self, tokenizer: Any, cls_id: int, sep_id: int, pad_id: int) -> None:
        self.tokenizer, self.cls_id, self.sep_id, self.pad_id = tokenizer, cls_id, sep_id, pad_id
        self.ids: dict[str, int] = {}

    @classmethod
    def for_tokenizer(cls, tokenizer: Any) -> "CharIds | None":
        """A lookup for `tokenizer` when it is checked to give one token a character, else None."""
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None or backend.pre_tokenizer is None:
            return None
        normal = backend.normalizer.normalize_str(cls.PROBE) if backend.normalizer else cls.PROBE
        if len(normal) != len(cls.PROBE) or len(backend.pre_tokenizer.pre_tokenize_str(normal)) != len(cls.PROBE):
            return None
        empty = tokenizer("")["input_ids"]
        if len(empty) != 2 or tokenizer.pad_token_id is None:
            return None
        lookup = cls(tokenizer, empty[0], empty[1], int(tokenizer.pad_token_id))
        probe = [cls.PROBE[:9], cls.PROBE]
        want = encode_texts(tokenizer, probe, len(cls.PROBE) + 2)
        got = lookup.encode(probe, len(cls.PROBE) + 2)
        if any(not np.array_equal(want[k], got[k]) for k in want):
            return None  # the tokenizer does something per character after all: ask it every time
        return lookup

    def encode(self, texts: Sequence[str], max_tokens: int) -> dict[str, np.ndarray]:
        """What `encode_texts` gives for these texts: ids, mask and offsets, padded to the longest, truncated."""
        n = max(min(max((len(t) for t in texts), default=0), max_tokens - 2), 0)
        self._learn(texts)
        ids = np.full((len(texts), n + 2), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), n + 2), dtype=np.int64)
        offsets = np.zeros((len(texts), n + 2, 2), dtype=np.int64)
        for row, text in enumerate(texts):
            size = min(len(text), n)
            ids[row, 0], ids[row, size + 1] = self.cls_id, self.sep_id
            ids[row, 1 : size + 1] = [self.ids[c] for c in text[:size]]
            mask[row, : size + 2] = 1
            offsets[row, 1 : size + 1, 0] = np.arange(size)
            offsets[row, 1 : size + 1, 1] = np.arange(1, size + 1)
        return {"input_ids": ids, "attention_mask": mask, "offset_mapping": offsets}

    def _learn(self, texts: Sequence[str]) -> None:
        chars = set("".join(texts))
        new = chars - self.ids.keys()
        if not new:
            return
        if len(self.ids) + len(new) > self.LIMIT:
            self.ids.clear()
            new = chars
        new = sorted(new)
        for char, ids in zip(new, self.tokenizer(new, add_special_tokens=False)["input_ids"]):
            if len(ids) != 1:
                raise ValueError(f"the tokenizer made {len(ids)} tokens of {char!r}: not a character tokenizer")
            self.ids[char] = ids[0]


# --------------------------------------------------------------------------- versioning


def model_version(data_snapshot: Iterable[tuple[str, str, Sequence[tuple[int, int, str]]]], config: dict) -> str:
    """A short hash of the training data (doc id, text hash, spans) and the resolved config."""
    h = hashlib.sha256()
    for doc_id, text_hash, spans in sorted(data_snapshot, key=lambda row: row[0]):
        h.update(json.dumps([doc_id, text_hash, sorted(spans)], ensure_ascii=False).encode("utf-8"))
    h.update(json.dumps(config, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------- tagger


def quantize_linear_int8(model: Any, device: str = "cpu") -> Any:
    """The model with its Linear layers' weights in int8, activations quantized on the fly.

    Why: on CPU the Linear layers are most of the forward pass, and int8 matrix products
    are about twice as fast as float32 ones. The CPU kernels only: other devices are refused.
    """
    import torch
    from torch.ao.quantization import quantize_dynamic

    if device != "cpu":
        raise ValueError(f"int8 dynamic quantization runs on the CPU only, not on {device}")
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def onnx_session(model: Any, path: Path, quantized: bool) -> Any:
    """An ONNX Runtime session for `model`, exported (and int8-quantized) once and cached.

    The export lives in `<path>/onnx/`, or under ~/.cache/nianbao/onnx/ when the model directory is
    read-only, named by a hash of the weights file, so a retrained model is exported again."""
    import os

    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        raise RuntimeError("runtime onnx needs ONNX Runtime: pip install 'nianbao[onnx]'") from None

    weights = next((path / n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).exists()), None)
    stamp = hashlib.sha256(f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}".encode() if weights else b"").hexdigest()[:12]
    name = f"model-{stamp}{'.int8' if quantized else ''}.onnx"
    cache = path / "onnx"
    try:
        cache.mkdir(exist_ok=True)
    except OSError:
        cache = Path.home() / ".cache" / "nianbao" / "onnx"
        cache.mkdir(parents=True, exist_ok=True)
    target = cache / name
    if not target.exists():
        plain = cache / f"model-{stamp}.onnx"
        if not plain.exists():
            inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if uses_rule_features(model.config) else [])
            dummy = tuple(torch.ones((2, 8), dtype=torch.long) for _ in inputs)
            tmp = plain.with_suffix(".tmp")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, dummy, str(tmp), input_names=inputs, output_names=["logits"],
                                  dynamic_axes={k: {0: "batch", 1: "tokens"} for k in [*inputs, "logits"]},
                                  opset_version=17, dynamo=False)
            os.replace(tmp, plain)
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = target.with_suffix(".tmp")
            quantize_dynamic(str(plain), str(tmp), weight_type=QuantType.QInt8)
            os.replace(tmp, target)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3
    return ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])


def gil_free_forward(model: Any, rule_features: bool) -> Any:
    """The model's forward pass as a TorchScript graph (logits from ids, mask and types), or None.

    Why: an eager forward pass runs its hundred-odd modules in Python and takes the interpreter
    lock between every two tensor ops, so forward threads stall behind the thread that builds the
    records (two eager forward threads beside a busy Python thread ran 4,600 chars/s; traced, 92,000).
    A traced graph runs in C++ with the lock released, so `Tagger.predict_iter` can keep the model
    busy in threads while the rest of the pipeline runs. The graph is traced on a padded batch and
    checked against the eager model on batches of other shapes, padded and not; a model whose forward
    branches in Python on its input (some pretrained encoders) fails the check and stays eager (None).
    """
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            if token_type_ids is None:
                return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    def batch(rows: int, tokens: int, padded: bool) -> tuple:
        generator = torch.Generator().manual_seed(rows * 1000 + tokens)
        ids = torch.randint(5, int(model.config.vocab_size), (rows, tokens), generator=generator)
        mask = torch.ones((rows, tokens), dtype=torch.long)
        if padded:
            mask[-1, tokens // 2 :] = 0
        if not rule_features:
            return ids, mask
        return ids, mask, torch.randint(0, int(getattr(model.config, "type_vocab_size", 1)), (rows, tokens), generator=generator)

    from transformers.utils import logging as hf_logging

    wrapped = Logits(model).eval()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # tracing reads every attribute: transformers would warn about unused ones
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python-side shape use: the check below decides
            graph = torch.jit.trace(wrapped, batch(3, 24, padded=True), check_trace=False)
            for rows, tokens, padded in ((5, 40, True), (2, 17, False), (1, 9, False)):
                inputs = batch(rows, tokens, padded)
                if not torch.allclose(graph(*inputs), wrapped(*inputs), atol=1e-4):
                    return None
    except Exception:  # a model tracing cannot follow: the eager pass is correct, only slower
        return None
    finally:
        hf_logging.set_verbosity(verbosity)
    return graph


@dataclass
class Tagger:
    """A saved model ready to tag whole reports."""

    model: Any
    tokenizer: Any
    max_len: int = 256
    stride: int = 64
    version: str = "unknown"
    device: str = "cpu"
    onnx: Any = None  # an ONNX Runtime session that runs the forward pass instead of torch (runtime="onnx")
    graph: Any = None  # the torch forward pass traced (`gil_free_forward`); None: eager
    char_ids: Any = field(default=False, repr=False)  # CharIds for a character tokenizer, None for others; False: not checked yet

    def encode(self, texts: Sequence[str], max_tokens: int) -> dict[str, np.ndarray]:
        """Window texts as padded id, mask and offset arrays (`CharIds` when the tokenizer allows it)."""
        if self.char_ids is False:
            self.char_ids = CharIds.for_tokenizer(self.tokenizer)
        if self.char_ids is not None:
            return self.char_ids.encode(texts, max_tokens)
        return encode_texts(self.tokenizer, texts, max_tokens)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", quantize: bool | None = None, runtime: str = "torch") -> "Tagger":
        """Load a `save_pretrained` directory written by `train.py` (or any compatible one).

        `quantize`: int8 dynamic quantization of the Linear layers (CPU only); None = on for
        CPU, where it makes inference faster for a negligible change in the spans (README,
        "Speed and memory").
        `runtime`: "torch", or "onnx": the model exported to ONNX once (cached beside it, see
        `onnx_session`) and run by ONNX Runtime, int8 when quantized.
        """
        if runtime not in ("torch", "onnx"):
            raise ValueError(f"unknown runtime {runtime!r}: torch or onnx")
        from transformers import AutoConfig, AutoModelForTokenClassification

        path = Path(path)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path}: no config.json; not a saved model directory")
        check_label_set(AutoConfig.from_pretrained(str(path)), str(path))  # before the weights: a clear error
        model = AutoModelForTokenClassification.from_pretrained(str(path))
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8")) if (path / META_FILE).exists() else {}
        model.to(device).eval()
        version = str(meta.get("model_version", "unknown"))
        quantized = quantize if quantize is not None else device == "cpu"
        session = None
        if runtime == "onnx":
            session = onnx_session(model, path, quantized)
            version += "+onnx"
        if quantized:
            if runtime == "torch":
                model = quantize_linear_int8(model, device)
            version += "+int8"  # its spans differ slightly from the float model's: records say which ran
        graph = gil_free_forward(model, uses_rule_features(model.config)) if runtime == "torch" else None
        return cls(
            model=model,
            graph=graph,
            tokenizer=load_tokenizer(path),
            max_len=int(meta.get("max_len", 256)),
            stride=int(meta.get("stride", 64)),
            version=version,
            device=device,
            onnx=session,
        )

    def window_probs(
        self, windows_text: Sequence[str], batch_size: int = 32, windows_rule_ids: Sequence[np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """Per-character probabilities for each window text: the bare forward pass, batched.

        A model trained with rule features needs `windows_rule_ids` (per-character rule tag ids
        of each window, see `rule_tag_ids`); they are computed here when not given.
        """
        import torch

        if uses_rule_features(self.model.config) and windows_rule_ids is None:
            windows_rule_ids = [rule_tag_ids(t) for t in windows_text]

        max_tokens = min(self.max_len + 2, int(self.model.config.max_position_embeddings))
        out: list[np.ndarray] = []
        order = sorted(range(len(windows_text)), key=lambda i: len(windows_text[i]))  # less padding
        results: dict[int, np.ndarray] = {}
        with torch.inference_mode():
            trim = EveryNth(RELEASE_EVERY_BATCHES)  # each batch's tensors have other shapes: freed ones pile up
            for b in range(0, len(order), batch_size):
                trim.tick()
                idx = order[b : b + batch_size]
                batch_texts = [windows_text[i] for i in idx]
                enc = self.encode(batch_texts, max_tokens)
                one_each = self.char_ids is not None  # one token a character, after [CLS]: no offsets to follow
                inputs = {k: torch.as_tensor(enc[k], device=self.device) for k in ("input_ids", "attention_mask")}
                if windows_rule_ids is not None:
                    if one_each:
                        types = np.zeros(enc["input_ids"].shape, dtype=np.int64)
                        for row, i in enumerate(idx):
                            size = min(len(batch_texts[row]), types.shape[1] - 2)
                            types[row, 1 : size + 1] = windows_rule_ids[i][:size]
                    else:
                        types = np.array([token_type_ids_for(enc["offset_mapping"][row], windows_rule_ids[i])
                                          for row, i in enumerate(idx)])
                    inputs["token_type_ids"] = torch.as_tensor(types, device=self.device)
                if self.onnx is not None:
                    feed = {k: v.numpy().astype(np.int64) for k, v in inputs.items()}
                    logits = torch.from_numpy(self.onnx.run(["logits"], feed)[0])
                elif self.graph is not None:
                    logits = self.graph(*(inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in inputs))
                else:
                    logits = self.model(**inputs).logits
                probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
                for row, i in enumerate(idx):
                    n = len(windows_text[i])
                    if one_each and n <= probs.shape[1] - 2:  # what token_probs_to_char_probs gives here, sliced
                        results[i] = probs[row, 1 : n + 1].astype(np.float32, copy=True)
                    else:
                        results[i] = token_probs_to_char_probs(enc["offset_mapping"][row], probs[row], n)
        out = [results[i] for i in range(len(windows_text))]
        return out

    def predict_probs(self, texts: Sequence[str], batch_size: int = 32) -> list[np.ndarray]:
        """Per-character label probabilities for whole documents (windows, batching, stitching)."""
        return self._probs(texts, [simplified(t) for t in texts], batch_size)

    def _probs(self, texts: Sequence[str], views: Sequence[str], batch_size: int) -> list[np.ndarray]:
        all_windows = [make_windows(v, self.max_len, self.stride) if v else [] for v in views]
        flat = [v[s:e] for v, ws in zip(views, all_windows) for s, e in ws]
        flat_rules = None
        if uses_rule_features(self.model.config):  # rules see the whole report, then are cut like the text
            doc_rules = [rule_tag_ids(t) for t in texts]
            flat_rules = [r[s:e] for r, ws in zip(doc_rules, all_windows) for s, e in ws]
        flat_probs = self.window_probs(flat, batch_size=batch_size, windows_rule_ids=flat_rules)
        out, k = [], 0
        for view, ws in zip(views, all_windows):
            out.append(stitch(len(view), ws, flat_probs[k : k + len(ws)]) if ws else np.zeros((0, len(BIO_TAGS))))
            k += len(ws)
        return out

    def predict(self, texts: Sequence[str], batch_size: int = 32, repair: bool = True,
                views: Sequence[str] | None = None) -> list[list[Span]]:
        """Spans per text, each scored with the mean probability of its characters' tags.

        `repair`: apply `nianbao.repair.repair_spans` (split numbers joined, stray characters
        dropped, categories completed); off gives the decoded spans as they are.
        `views`: the texts' Simplified views, when the caller has them already.
        """
        out: list[list[Span]] = [[] for _ in texts]
        for i, spans in self.predict_iter(texts, batch_size=batch_size, repair=repair, views=views):
            out[i] = spans
        return out

    def predict_iter(self, texts: Iterable[str], batch_size: int = 32, repair: bool = True,
                     views: Iterable[str] | None = None, chunk_windows: int = 256,
                     progress: Callable[[int], None] | None = None, threads: int = 1,
                     group_of: Callable[[int], Any] | None = None) -> Iterator[tuple[int, list[Span]]]:
        """(index, spans) of each text as soon as its last window has been through the model, in input order.

        Windows of consecutive texts share forward batches of up to `chunk_windows` windows; a long
        text goes through chunk by chunk, its probabilities stitched and decoded as they become
        final (`StreamingStitcher`, cuts only where a character is surely O), so memory stays
        bounded by the chunk, not the text. `texts` (and `views`) may be lazy: a text is taken only
        when its windows are next in line, so a caller can read its reports as they are needed.
        `progress(n)` is told each time n more characters are done.

        `threads` > 1, with a forward pass that runs without the interpreter lock (`gil_free_forward`,
        or ONNX Runtime): that many chunks go through the model at once in threads, and up to twice as
        many are queued ahead, so the model keeps working while this generator's caller builds the
        records of the reports already done. The answers are the same, in the same order.

        `group_of(i)`: texts of different groups never share a chunk (a forward batch). int8 activations
        are scaled per batch, so a text's spans depend, a little, on the texts it shares batches with;
        grouping texts by the caller's batches makes them the same however the batches are run
        (one stream here, or batch by batch in worker processes and Ray actors).
        """
        from concurrent.futures import Future, ThreadPoolExecutor

        from .repair import repair_spans

        source = iter(texts)
        view_source = iter(views) if views is not None else None
        rule_features = uses_rule_features(self.model.config)
        held: dict[int, str] = {}  # text index -> its view, until its spans are out (the text is read once, for the rule tags)
        pending: deque[tuple[int, int]] = deque()  # (text index, window index) waiting for the model
        states: dict[int, _DocState] = {}
        parallel = threads > 1 and (self.graph is not None or self.onnx is not None)
        pool = ThreadPoolExecutor(threads, thread_name_prefix="forward") if parallel else None
        ahead: deque[tuple[list[tuple[int, int]], Future | list[np.ndarray]]] = deque()  # chunks sent to the model
        depth = 2 * threads if parallel else 1
        taken = 0
        exhausted = False
        waiting: int | None = None  # a text taken whose windows wait for the next chunk (see group_of)

        def finished(i: int) -> list[Span]:
            state = states.pop(i)
            spans = state.close()
            if len(state.windows) > chunk_windows:  # a long report: what its chunks freed goes back now
                release()
            view = held.pop(i)  # done with: a long report's text is not held here while the caller goes on
            return repair_spans(view, spans) if repair else spans

        ready: dict[int, list[Span]] = {}  # finished texts waiting for the ones before them (only empty texts wait)
        next_out = 0

        def in_order() -> Iterator[tuple[int, list[Span]]]:
            nonlocal next_out
            while next_out in ready:
                yield next_out, ready.pop(next_out)
                next_out += 1

        def forward(windows_text: list[str], rules: list[np.ndarray] | None) -> list[np.ndarray]:
            return self.window_probs(windows_text, batch_size=batch_size, windows_rule_ids=rules)

        try:
            while True:
                while len(ahead) < depth:  # send chunks to the model until `depth` are on their way
                    while not exhausted and len(pending) < chunk_windows:
                        if waiting is not None:  # taken already: it starts a new group, so a new chunk
                            i, waiting = waiting, None
                        else:
                            text = next(source, None)
                            if text is None:
                                exhausted = True
                                break
                            i, taken = taken, taken + 1
                            view = next(view_source) if view_source is not None else simplified(text)
                            held[i] = view
                            windows = make_windows(view, self.max_len, self.stride) if view else []
                            states[i] = _DocState(len(view), windows, rule_tag_ids(text) if rule_features and windows else None)
                            if pending and group_of is not None and group_of(i) != group_of(pending[-1][0]):
                                waiting = i
                                break
                        windows = states[i].windows
                        if not windows:  # nothing for the model: out as soon as the texts before it are
                            ready[i] = finished(i)
                            yield from in_order()
                            continue
                        pending.extend((i, k) for k in range(len(windows)))
                    if not pending:
                        break
                    chunk = [pending.popleft() for _ in range(min(chunk_windows, len(pending)))]  # no copy of the rest
                    windows_text = [held[i][slice(*states[i].windows[k])] for i, k in chunk]
                    rules = [states[i].rules[slice(*states[i].windows[k])] for i, k in chunk] if rule_features else None
                    ahead.append((chunk, pool.submit(forward, windows_text, rules) if pool else forward(windows_text, rules)))
                if not ahead:
                    return
                chunk, result = ahead.popleft()
                probs = result.result() if pool else result
                for (i, k), p in zip(chunk, probs):
                    done_before = states[i].stitcher.done
                    states[i].add(k, p)
                    if progress is not None:
                        progress(states[i].stitcher.done - done_before)
                    if states[i].complete:
                        ready[i] = finished(i)
                        yield from in_order()
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)


RELEASE_EVERY_BATCHES = 16  # forward batches between two `memory.release()` calls: freed tensor memory piles up by
# ~0.6 MB a window otherwise (RSS 700 -> 613 MiB on 1 M characters for 1 % of the speed; every 4: 488 MiB, -15 %)
DECODE_EVERY = 16384  # final characters gathered before they are decoded (each cut waits for a surely-O one; more at
# once lets viterbi_many decode more stretches per loop: 4096 took 2.5x the decoding time on 1M chars)
LONGEST_OPEN_STRETCH = 65536  # ... but no longer than this: memory stays bounded on junk


class _DocState:
    """One text in `Tagger.predict_iter`: its windows, rule tags, stitcher and the spans decoded so far."""

    def __init__(self, n: int, windows: list[tuple[int, int]], rules: np.ndarray | None) -> None:
        self.windows, self.rules = windows, rules
        self.stitcher = StreamingStitcher(n, len(BIO_TAGS))
        self.added = 0
        self.parts: list[np.ndarray] = []  # final probabilities not decoded yet, from `decoded` on
        self.held = 0
        self.decoded = 0
        self.spans: list[Span] = []

    @property
    def complete(self) -> bool:
        return self.added == len(self.windows)

    def add(self, k: int, probs: np.ndarray) -> None:
        if k != self.added:
            raise ValueError(f"window {k} arrived before window {self.added}")
        self.stitcher.add(self.windows[k], probs)
        self.added += 1
        nxt = self.windows[k + 1][0] if k + 1 < len(self.windows) else None
        final = self.stitcher.final_upto(nxt)
        if final > self.stitcher.done:
            part = self.stitcher.take(final)
            self.parts.append(part)
            self.held += len(part)
        if self.held >= DECODE_EVERY:
            self._decode(last=False)

    def _decode(self, last: bool) -> None:
        probs = np.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        cut = len(probs)
        if not last:  # decode up to the last surely-O character: the path restarts there (decode_tags)
            sure = np.flatnonzero(probs[:, label2id["O"]] >= SURE_O)
            if len(sure):
                cut = int(sure[-1]) + 1
            elif self.held < LONGEST_OPEN_STRETCH:
                return  # wait for more: the stretch goes on
            # else: a stretch this long with no surely-O character (junk) is cut where it stands
        for span in probs_to_spans(probs[:cut]):
            span.start += self.decoded
            span.end += self.decoded
            self.spans.append(span)
        self.decoded += cut
        rest = probs[cut:]
        self.parts, self.held = ([rest] if len(rest) else []), len(rest)

    def close(self) -> list[Span]:
        if self.parts:
            self._decode(last=True)
        return self.spans


def allowed_transitions() -> np.ndarray:
    """allowed[i, j]: tag j may follow tag i under BIO (I-X only after B-X or I-X)."""
    allowed = np.ones((len(BIO_TAGS), len(BIO_TAGS)), dtype=bool)
    for j, tag in enumerate(BIO_TAGS):
        if tag.startswith("I-"):
            label = tag[2:]
            allowed[:, j] = False
            allowed[label2id[f"B-{label}"], j] = allowed[label2id[f"I-{label}"], j] = True
    return allowed


_ALLOWED = allowed_transitions()
_START_ALLOWED = np.array([not t.startswith("I-") for t in BIO_TAGS])


def viterbi_tags(probs: np.ndarray) -> np.ndarray:
    """The most probable tag sequence that is valid BIO, from independent per-character probabilities.

    Per-character argmax breaks an uncertain span into pieces (`I` after `O`); the best valid
    path decides each span as a whole instead.
    """
    return viterbi_many([probs])[0]


VITERBI_CELLS = 1 << 18  # stretches decoded together hold at most this many (stretch x character) cells


def viterbi_many(parts: Sequence[np.ndarray]) -> list[np.ndarray]:
    """`viterbi_tags` of each probability array: stretches of similar length go through one loop
    together, vectorised across them, instead of one Python loop each (a report has thousands)."""
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(parts)
    order = [i for i in sorted(range(len(parts)), key=lambda i: len(parts[i])) if len(parts[i])]
    penalty = np.where(_ALLOWED, 0.0, -np.inf)
    k = len(BIO_TAGS)
    g = 0
    while g < len(order):
        size = 1  # sorted by length: the group's last stretch is its longest
        while g + size < len(order) and (size + 1) * len(parts[order[g + size]]) <= VITERBI_CELLS:
            size += 1
        idx = order[g : g + size]
        g += size
        lengths = np.array([len(parts[i]) for i in idx])
        longest = int(lengths[-1])
        logp = np.zeros((len(idx), longest, k))
        for row, i in enumerate(idx):
            logp[row, : lengths[row]] = np.log(np.clip(parts[i], 1e-9, 1.0))
        score = np.where(_START_ALLOWED, logp[:, 0], -np.inf)  # (stretch, tag)
        back = np.broadcast_to(np.arange(k, dtype=np.int8), (len(idx), longest, k)).copy()  # past its end a stretch keeps its tag
        live = 0  # stretches are sorted by length: those still going at t are the rows from `live` on
        for t in range(1, longest):
            while lengths[live] <= t:
                live += 1
            cand = score[live:, :, None] + penalty  # (stretch, previous tag, next tag)
            back[live:, t] = cand.argmax(axis=1)
            score[live:] = cand.max(axis=1) + logp[live:, t]
        tags = np.empty((len(idx), longest), dtype=np.int64)
        rows = np.arange(len(idx))
        cur = score.argmax(axis=1)
        for t in range(longest - 1, 0, -1):
            tags[:, t] = cur
            cur = back[rows, t, cur]
        tags[:, 0] = cur
        for row, i in enumerate(idx):
            out[i] = tags[row, : lengths[row]]
    return out


SURE_O = 0.999  # a character this sure to be O ends any path: decoding restarts after it


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def decode_tags(probs: np.ndarray) -> np.ndarray:
    """Best valid BIO path, decoded only over the stretches where some entity is possible.

    Most characters of a report are confidently O; cutting the path there gives the same
    tags in a fraction of the time (the Viterbi loop runs in Python, per character, over all hard stretches at once).
    """
    tags = np.zeros(len(probs), dtype=np.int64)  # O
    best = probs.argmax(axis=1)
    # bad[i]: the argmax tags i-1 -> i break BIO; a stretch with no bad step (and no I- first)
    # keeps its argmax tags, which are then the best valid path too, with no Viterbi loop.
    bad = np.concatenate(([0], np.cumsum(~_ALLOWED[best[:-1], best[1:]]))) if len(best) else best
    hard = []
    for start, end in _runs(probs[:, label2id["O"]] < SURE_O):
        if _START_ALLOWED[best[start]] and bad[end - 1] == bad[start]:
            tags[start:end] = best[start:end]
        else:
            hard.append((start, end))
    for (start, end), path in zip(hard, viterbi_many([probs[start:end] for start, end in hard])):
        tags[start:end] = path
    return tags


def probs_to_spans(probs: np.ndarray) -> list[Span]:
    """Decode per-character probabilities into spans (best valid BIO path, mean scores)."""
    if len(probs) == 0:
        return []
    best = decode_tags(probs)
    scores = probs[np.arange(len(best)), best]
    # Only the stretches between O tags hold spans: each is read on its own (an O ends any span, so
    # the spans are those of the whole sequence), and the O characters, most of a report, are skipped.
    spans: list[Span] = []
    for start, end in _runs(best != label2id["O"]):
        for span in bio_to_spans([id2label[i] for i in best[start:end].tolist()], scores[start:end].tolist()):
            span.start += start
            span.end += start
            spans.append(span)
    return spans
