"""Tokenizer alignment, save/load with plain transformers, Tagger predictions and label-set checks."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from nianbao.labels import BIO_TAGS, label2id
from nianbao.model import (
    META_FILE,
    Tagger,
    align_labels_to_tokens,
    build_model,
    build_vocab,
    load_tokenizer,
    make_char_tokenizer,
    model_version,
    token_probs_to_char_probs,
)
from nianbao.spans import Span, spans_to_bio

TINY = SimpleNamespace(model_name_or_path=None, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=64, max_position_embeddings=80, dropout=0.0)
TEXT = "本年度收到 申请３１２件，其中予以公开\n２００件；電話０７７２。"


@pytest.fixture(scope="module")
def char_dir(tmp_path_factory):
    """A tiny untrained model saved the way train.py saves one."""
    import torch

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny")
    vocab = build_vocab(["本年度收到申请件其中予以公开"], add_common_cjk=False)
    tok = make_char_tokenizer(vocab)
    model = build_model(TINY, vocab_size=len(vocab))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / META_FILE).write_text(json.dumps({"model_version": "test", "max_len": 24, "stride": 6}), encoding="utf-8")
    return out


def test_char_tokenizer_gives_one_token_per_character_after_reload(char_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(char_dir)
    enc = tok(TEXT, return_offsets_mapping=True)
    offsets = [tuple(o) for o in enc["offset_mapping"] if o[1] > o[0]]
    assert offsets == [(i, i + 1) for i in range(len(TEXT))]  # whitespace and unknown chars included
    assert tok.unk_token_id in enc["input_ids"]  # 電 is not in this vocabulary, still aligned


def test_align_labels_through_a_wordpiece_tokenizer():
    """A pretrained-style tokenizer groups digits and drops spaces; every character still gets a tag."""
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("收到申请件") + ["31", "##2"]
    tok = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})
    text = "收到 申请312件"
    tags = spans_to_bio(len(text), [Span(3, 5, "CATEGORY"), Span(5, 9, "COUNT")])
    enc = tok(text, return_offsets_mapping=True)
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    ids = align_labels_to_tokens(offsets, tags)
    assert [BIO_TAGS[i] if i >= 0 else None for i in ids] == [None, "O", "O", "B-CATEGORY", "I-CATEGORY", "B-COUNT", "I-COUNT", "I-COUNT", None]
    probs = np.eye(len(BIO_TAGS))[[max(i, 0) for i in ids]]
    back = token_probs_to_char_probs(offsets, probs, len(text))
    assert [BIO_TAGS[i] for i in back.argmax(1)] == tags  # the grouped token "31" spreads as B then I


def test_character_ids_are_what_the_tokenizer_gives_and_wordpiece_tokenizers_are_asked_as_usual(char_dir):
    """The per-character lookup must give the tokenizer's own ids, mask and offsets, padding and truncation
    included; a tokenizer with whole-word tokens gets no lookup."""
    from transformers import AutoTokenizer, BertTokenizer

    from nianbao.model import CharIds, encode_texts

    tok = AutoTokenizer.from_pretrained(char_dir)
    lookup = CharIds.for_tokenizer(tok)
    assert lookup is not None
    texts = [TEXT, TEXT[:5], "", "\u200b😀a\u0301 \r\n▁" + TEXT]
    for max_tokens in (64, 12):
        want, got = encode_texts(tok, texts, max_tokens), lookup.encode(texts, max_tokens)
        assert want.keys() == got.keys()
        for key in want:
            assert np.array_equal(want[key], got[key]), key
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("收到申请件") + ["31", "##2"]
    assert CharIds.for_tokenizer(BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})) is None


def test_save_load_round_trip_with_plain_transformers(char_dir):
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(char_dir)
    assert model.config.label2id == label2id
    tagger = Tagger.load(char_dir, quantize=False)  # float32: the same numbers as plain transformers
    tok = AutoTokenizer.from_pretrained(char_dir)
    window = TEXT[:20]
    with torch.inference_mode():
        logits = model(**tok(window, return_tensors="pt")).logits[0, 1:-1]
    expected = torch.softmax(logits, -1).numpy()
    got = tagger.window_probs([window])[0]
    assert np.allclose(got, expected, atol=1e-5)


def test_int8_tagger_is_the_cpu_default_and_stays_close_to_float32(char_dir):
    """Quantized Linear layers on CPU by default; probabilities move little, so decoded tags barely change."""
    import torch

    fast, exact = Tagger.load(char_dir), Tagger.load(char_dir, quantize=False)
    assert any("quantized" in type(m).__module__ for m in fast.model.modules())
    assert not any("quantized" in type(m).__module__ for m in exact.model.modules())
    assert fast.version == exact.version + "+int8", "records must say that the int8 model made them"
    assert isinstance(exact.model.classifier, torch.nn.Linear)
    long_text = TEXT * 9
    got, want = fast.predict_probs([long_text])[0], exact.predict_probs([long_text])[0]
    assert got.shape == want.shape and np.abs(got - want).max() < 0.05
    with pytest.raises(ValueError, match="CPU only"):
        from nianbao.model import quantize_linear_int8

        quantize_linear_int8(exact.model, device="cuda")


def test_decoding_keeps_argmax_when_valid_and_repairs_it_otherwise():
    """The fast path (valid argmax tags) and the Viterbi path agree with Viterbi on every stretch."""
    from nianbao.model import SURE_O, decode_tags, viterbi_tags

    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 200))
        probs = rng.dirichlet(np.full(len(BIO_TAGS), 0.3), size=n).astype(np.float32)
        sure = rng.random(n) < 0.5
        probs[sure] = 0.0
        probs[sure, label2id["O"]] = 1.0
        want = np.zeros(n, dtype=np.int64)
        open_ = probs[:, label2id["O"]] < SURE_O
        edges = np.flatnonzero(np.diff(np.concatenate(([0], open_.astype(np.int8), [0]))))
        for start, end in zip(edges[::2], edges[1::2]):
            want[start:end] = viterbi_tags(probs[start:end])
        assert (decode_tags(probs) == want).all()


def test_predict_covers_long_texts_and_scores_spans(char_dir):
    tagger = Tagger.load(char_dir)
    long_text = TEXT * 9  # many windows of 24 characters
    probs = tagger.predict_probs([long_text, ""])
    assert probs[0].shape == (len(long_text), len(BIO_TAGS)) and probs[1].shape[0] == 0
    assert np.allclose(probs[0].sum(1), 1, atol=1e-4)
    for span in tagger.predict([long_text])[0]:
        assert 0 <= span.start < span.end <= len(long_text) and 0 < span.score <= 1


def test_a_model_with_other_labels_is_refused(char_dir, tmp_path):
    config = json.loads((char_dir / "config.json").read_text())
    config["id2label"] = {"0": "O", "1": "B-MONEY", "2": "I-MONEY"}
    config["label2id"] = {"O": 0, "B-MONEY": 1, "I-MONEY": 2}
    for f in char_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="differ from the project's"):
        Tagger.load(tmp_path)


def test_model_version_tracks_data_and_config():
    data = [("a", "h1", [(0, 2, "COUNT")])]
    v = model_version(data, {"lr": 1})
    assert v == model_version(list(data), {"lr": 1})
    assert v != model_version([("a", "h1", [(0, 3, "COUNT")])], {"lr": 1})
    assert v != model_version(data, {"lr": 2})


def test_rule_features_are_token_types_saved_with_the_model(tmp_path):
    """A rule-feature model keeps its flag through save/load and gets the rules' tags as token types."""
    from transformers import AutoModelForTokenClassification

    from nianbao.labels import label2id
    from nianbao.model import Tagger, rule_tag_ids, token_type_ids_for, uses_rule_features

    cfg = SimpleNamespace(**vars(TINY), rule_features=True)
    vocab = build_vocab([TEXT], add_common_cjk=False)
    model = build_model(cfg, vocab_size=len(vocab))
    assert model.config.type_vocab_size == len(label2id)
    model.save_pretrained(tmp_path)
    make_char_tokenizer(vocab).save_pretrained(tmp_path)
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path)
    assert uses_rule_features(reloaded.config)

    ids = rule_tag_ids(TEXT)
    assert len(ids) == len(TEXT)
    start = TEXT.index("３１２件")
    assert ids[start] == label2id["B-COUNT"] and ids[start + 1] == label2id["I-COUNT"]
    assert token_type_ids_for([(0, 0), (start, start + 1), (start + 1, start + 2)], ids) == [0, ids[start], ids[start + 1]]

    tagger = Tagger(model=reloaded.eval(), tokenizer=load_tokenizer(tmp_path), max_len=60, stride=10)
    given = tagger.window_probs([TEXT[:60]], windows_rule_ids=[ids[:60]])[0]
    computed = tagger.window_probs([TEXT[:60]])[0]
    np.testing.assert_allclose(given, computed, rtol=1e-5)
    without = tagger.window_probs([TEXT[:60]], windows_rule_ids=[np.zeros(60, dtype=np.int64)])[0]
    assert not np.allclose(given, without), "rule tags must reach the model"


def test_viterbi_decoding_keeps_an_uncertain_span_whole():
    """Argmax per character would give 【政】府【信】息; the best valid BIO path gives one span or none."""
    from nianbao.model import probs_to_spans, viterbi_tags

    def row(**p):
        r = np.full(len(BIO_TAGS), 1e-4)
        for tag, v in p.items():
            r[label2id[tag.replace("_", "-")]] = v
        return r / r.sum()

    probs = np.stack([
        row(O=0.2, B_CATEGORY=0.7), row(O=0.45, I_CATEGORY=0.55), row(O=0.6, I_CATEGORY=0.4),
        row(O=0.3, I_CATEGORY=0.7), row(O=0.9, B_COUNT=0.1), row(B_COUNT=0.95), row(I_COUNT=0.9, O=0.1),
    ])
    tags = [BIO_TAGS[i] for i in viterbi_tags(probs)]
    assert tags == ["B-CATEGORY", "I-CATEGORY", "I-CATEGORY", "I-CATEGORY", "O", "B-COUNT", "I-COUNT"]
    assert [(s.start, s.end, s.label) for s in probs_to_spans(probs)] == [(0, 4, "CATEGORY"), (5, 7, "COUNT")]
    # an I- with no B- before it is never produced
    lone = np.stack([row(O=0.9), row(O=0.4, I_OUTCOME=0.6), row(O=0.9)])
    assert [BIO_TAGS[i] for i in viterbi_tags(lone)] == ["O", "O", "O"]


def test_stretches_decoded_together_each_get_their_own_best_valid_path():
    """Decoding many stretches of different lengths in one vectorised loop: each gets the most probable
    valid BIO path of its own, checked against every possible path of short stretches."""
    import itertools

    from nianbao.model import _ALLOWED, _START_ALLOWED, viterbi_many

    rng = np.random.default_rng(3)
    parts = [rng.dirichlet(np.full(len(BIO_TAGS), 0.4), size=n) for n in (3, 1, 4, 2, 4, 3, 1)]
    for probs, path in zip(parts, viterbi_many(parts)):
        logp = np.log(probs)
        valid = (p for p in itertools.product(range(len(BIO_TAGS)), repeat=len(probs))
                 if _START_ALLOWED[p[0]] and all(_ALLOWED[a, b] for a, b in zip(p, p[1:])))
        best = max(valid, key=lambda p: sum(logp[i, t] for i, t in enumerate(p)))
        assert path.tolist() == list(best)


def test_decoding_only_where_entities_are_possible_gives_the_full_path():
    from nianbao.model import decode_tags, viterbi_tags

    rng = np.random.default_rng(0)
    probs = np.zeros((400, len(BIO_TAGS)))
    probs[:, label2id["O"]] = 1.0
    for start in (20, 150, 151, 300):  # uncertain stretches inside a confidently-O text
        probs[start : start + 12] = rng.dirichlet(np.ones(len(BIO_TAGS)), size=12)
    assert (decode_tags(probs) == viterbi_tags(probs)).all()


def test_predict_iter_streams_reports_in_order_with_the_spans_of_the_whole_document_path(char_dir):
    """Streaming (chunks of windows across reports, stitched and decoded as they become final) gives the
    spans the whole-document path gives, one report at a time and in input order; progress counts characters."""
    from nianbao.model import probs_to_spans
    from nianbao.repair import repair_spans

    tagger = Tagger.load(char_dir, quantize=False)  # int8 activations depend on the batch: compare in float
    texts = [TEXT * 40, "", TEXT, TEXT * 3]
    whole = [repair_spans(t, probs_to_spans(p)) for t, p in zip(texts, tagger._probs(texts, texts, 8))]
    done: list[int] = []
    streamed = list(tagger.predict_iter(texts, batch_size=8, views=texts, chunk_windows=5, progress=done.append))
    assert [i for i, _ in streamed] == [0, 1, 2, 3]
    key = lambda spans: [(s.start, s.end, s.label, round(s.score, 4)) for s in spans]  # noqa: E731
    assert [key(s) for _, s in streamed] == [key(s) for s in whole]
    assert sum(done) == sum(map(len, texts))


def test_onnx_runtime_gives_the_torch_probabilities_and_caches_its_export(char_dir, tmp_path):
    """The forward pass in ONNX Runtime: exported once into the model directory, the float export gives
    torch's probabilities; the int8 one stays close; a model_version says which ran."""
    import shutil

    pytest.importorskip("onnxruntime")
    model_dir = tmp_path / "model"
    shutil.copytree(char_dir, model_dir)
    torch_tagger = Tagger.load(model_dir, quantize=False)
    onnx_tagger = Tagger.load(model_dir, quantize=False, runtime="onnx")
    assert onnx_tagger.version.endswith("+onnx") and len(list((model_dir / "onnx").glob("*.onnx"))) == 1
    texts = [TEXT * 5, TEXT]
    for a, b in zip(torch_tagger.predict_probs(texts), onnx_tagger.predict_probs(texts)):
        np.testing.assert_allclose(a, b, atol=1e-4)
    int8 = Tagger.load(model_dir, runtime="onnx")
    assert int8.version.endswith("+onnx+int8") and len(list((model_dir / "onnx").glob("*.onnx"))) == 2
    for a, b in zip(torch_tagger.predict_probs(texts), int8.predict_probs(texts)):
        assert np.abs(a - b).max() < 0.1
    with pytest.raises(ValueError, match="unknown runtime"):
        Tagger.load(model_dir, runtime="tvm")


def test_the_traced_forward_pass_gives_the_eager_logits_and_holds_no_interpreter_lock(char_dir):
    """The tagger's torch forward pass is a traced graph with the eager model's numbers, on batches of other
    shapes than the one it was traced on, padded or not; while it runs, another thread runs Python."""
    import threading

    import torch

    tagger = Tagger.load(char_dir, quantize=False)
    assert tagger.graph is not None
    generator = torch.Generator().manual_seed(1)
    for rows, tokens, pad in ((7, 30, True), (4, 26, False), (1, 5, False)):
        ids = torch.randint(5, tagger.model.config.vocab_size, (rows, tokens), generator=generator)
        mask = torch.ones_like(ids)
        if pad:
            mask[0, 3:] = 0
        with torch.inference_mode():
            eager = tagger.model(input_ids=ids, attention_mask=mask).logits
            torch.testing.assert_close(tagger.graph(ids, mask), eager, atol=1e-5, rtol=1e-5)

    big = torch.randint(5, tagger.model.config.vocab_size, (64, 78), generator=generator)
    args = (big, torch.ones_like(big))
    steps = {"python": 0, "graph runs": 0}
    running = threading.Event()

    def forward() -> None:
        with torch.inference_mode():
            running.set()
            for _ in range(30):
                tagger.graph(*args)
                steps["graph runs"] += 1

    thread = threading.Thread(target=forward)
    thread.start()
    running.wait()
    while thread.is_alive():  # pure Python beside the graph: it gets the lock at once, not once per switch interval
        steps["python"] += 1
    thread.join()
    assert steps["graph runs"] == 30
    assert steps["python"] > 1000, steps


def test_a_model_whose_forward_tracing_cannot_follow_stays_eager(char_dir):
    """A forward pass that reads its input's values in Python fails the traced-vs-eager check: no graph."""
    import torch

    from nianbao.model import gil_free_forward

    class ShapeDependent(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.config = inner, inner.config

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            if int(attention_mask.sum()) % 2:  # a Python branch on the data: tracing bakes in one side
                out.logits = out.logits * 2
            return out

    tagger = Tagger.load(char_dir, quantize=False)
    assert gil_free_forward(tagger.model, rule_features=False) is not None
    assert gil_free_forward(ShapeDependent(tagger.model), rule_features=False) is None


def test_forward_threads_give_the_spans_of_one_thread_and_take_texts_only_when_needed(char_dir):
    """With two forward threads the stream gives the same spans in the same order as with none; texts
    given lazily are taken a few chunks ahead of the model, not all at once."""
    tagger = Tagger.load(char_dir, quantize=False)
    texts = [TEXT * (1 + k % 7) for k in range(40)] + ["", TEXT * 60]
    key = lambda spans: [(s.start, s.end, s.label, round(s.score, 4)) for s in spans]  # noqa: E731
    one = [(i, key(s)) for i, s in tagger.predict_iter(texts, batch_size=4, chunk_windows=6)]
    taken: list[int] = []

    def lazily():
        for k, text in enumerate(texts):
            taken.append(k)
            yield text

    two = []
    for i, spans in tagger.predict_iter(lazily(), batch_size=4, chunk_windows=6, threads=2):
        two.append((i, key(spans)))
        if i == 0:
            ahead_at_first = len(taken)
    assert two == one
    assert [i for i, _ in two] == sorted(i for i, _ in two)
    # text 0 is out once its chunk is back: at most 2 x 2 chunks of 6 windows were taken (a text has >= 1 window)
    assert ahead_at_first <= 2 * 2 * 6 + 1


def test_texts_of_different_groups_never_share_a_forward_batch(char_dir):
    """int8 activations are scaled per batch: with groups, a text's spans are those of its group tagged alone,
    so one stream over many batches gives what worker processes give batch by batch."""
    tagger = Tagger.load(char_dir)  # int8: the batch matters
    texts = [TEXT * (1 + k % 5) for k in range(12)]
    key = lambda spans: [(s.start, s.end, s.label, round(s.score, 6)) for s in spans]  # noqa: E731
    alone = []
    for g in range(0, 12, 3):
        alone += [key(s) for _, s in tagger.predict_iter(texts[g : g + 3], batch_size=4, chunk_windows=50)]
    grouped = [key(s) for _, s in tagger.predict_iter(texts, batch_size=4, chunk_windows=50, threads=2,
                                                       group_of=lambda i: i // 3)]
    assert grouped == alone
    calls: list[int] = []
    real = tagger.window_probs
    tagger.window_probs = lambda windows, **kw: calls.append(len(windows)) or real(windows, **kw)
    list(tagger.predict_iter(texts, batch_size=4, chunk_windows=50, group_of=lambda i: i // 3))
    assert len(calls) == 4  # one chunk a group: no chunk holds windows of two groups


def test_a_character_tokenizers_windows_skip_the_offset_mapping_with_the_same_probabilities(tmp_path):
    """For the project's character tokenizer the token types and per-character probabilities are sliced
    straight from the batch; they must be what the offset-mapping path gives for any tokenizer."""
    import torch

    torch.manual_seed(1)
    vocab = build_vocab(["本年度收到申请件其中予以公开"], add_common_cjk=False)
    model = build_model(SimpleNamespace(**vars(TINY), rule_features=True), vocab_size=len(vocab))
    model.save_pretrained(tmp_path)
    make_char_tokenizer(vocab).save_pretrained(tmp_path)
    (tmp_path / META_FILE).write_text(json.dumps({"model_version": "t", "max_len": 24, "stride": 6}), encoding="utf-8")
    tagger = Tagger.load(tmp_path, quantize=False)
    windows = [TEXT[:24], TEXT[:7], TEXT[5:29]]
    rules = [np.arange(len(w), dtype=np.int8) % len(BIO_TAGS) for w in windows]
    fast = tagger.window_probs(windows, batch_size=2, windows_rule_ids=rules)
    assert tagger.char_ids is not None
    tagger.char_ids = None  # the general path: the tokenizer's own offsets
    general = tagger.window_probs(windows, batch_size=2, windows_rule_ids=rules)
    for a, b in zip(fast, general):
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
