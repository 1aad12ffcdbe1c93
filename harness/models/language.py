"""Transformer language models: BERT and RoBERTa from transformers (built from configs, never downloaded),
and the base Transformer of Vaswani et al. 2017 (written here)."""
import math

import torch
import torch.nn as nn
from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

# Eager attention keeps matmul/softmax/transpose visible as separate operators, as in the authors' TVM graphs,
# instead of one fused scaled_dot_product_attention kernel.
_EAGER = dict(attn_implementation="eager")


def bert_base():
    return BertModel(BertConfig(**_EAGER), add_pooling_layer=True)


def bert_large():
    config = BertConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                        **_EAGER)
    return BertModel(config, add_pooling_layer=True)


def roberta_base():
    config = RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, **_EAGER)
    return RobertaModel(config, add_pooling_layer=True)


class Attention(nn.Module):
    """Multi-head scaled dot-product attention written out (matmul, softmax, matmul), as TVM sees it."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.q, self.k, self.v, self.out = (nn.Linear(d_model, d_model) for _ in range(4))
        self.heads = heads

    def _split(self, x):
        batch, length, width = x.shape
        return x.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

    def forward(self, query, memory, mask=None):
        q, k, v = self._split(self.q(query)), self._split(self.k(memory)), self._split(self.v(memory))
        scores = q @ k.transpose(2, 3) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores + mask
        context = (scores.softmax(dim=-1) @ v).transpose(1, 2)
        return self.out(context.reshape(query.shape))


class Layer(nn.Module):
    """Post-norm Transformer layer: self-attention, cross-attention (decoder only), feed-forward."""

    def __init__(self, d_model: int, heads: int, ffn: int, cross: bool):
        super().__init__()
        self.self_attn = Attention(d_model, heads)
        self.cross_attn = Attention(d_model, heads) if cross else None
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn), nn.ReLU(), nn.Linear(ffn, d_model))
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(3 if cross else 2))

    def forward(self, x, memory=None, mask=None):
        x = self.norms[0](x + self.self_attn(x, x, mask))
        if self.cross_attn is not None:
            x = self.norms[1](x + self.cross_attn(x, memory))
        return self.norms[-1](x + self.ffn(x))


class TransformerBase(nn.Module):
    """Encoder-decoder Transformer (base) of Vaswani et al. 2017: d_model 512, 8 heads, FFN 2048, 6+6 layers,
    one embedding matrix shared by source, target and the output projection (37k shared BPE vocabulary),
    sinusoidal positions. `forward(src, tgt)` scores a target sequence in one pass (teacher forcing)."""

    def __init__(self, vocab: int = 37000, d_model: int = 512, heads: int = 8, ffn: int = 2048, layers: int = 6,
                 max_len: int = 512):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.encoder = nn.ModuleList(Layer(d_model, heads, ffn, cross=False) for _ in range(layers))
        self.decoder = nn.ModuleList(Layer(d_model, heads, ffn, cross=True) for _ in range(layers))
        position = torch.arange(max_len).unsqueeze(1)
        freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * freq)
        table[:, 1::2] = torch.cos(position * freq)
        self.register_buffer("positions", table, persistent=False)
        causal = torch.full((max_len, max_len), float("-inf")).triu(1)
        self.register_buffer("causal", causal, persistent=False)
        self.scale = math.sqrt(d_model)

    def _embed(self, tokens):
        return self.embed(tokens) * self.scale + self.positions[: tokens.shape[1]]

    def forward(self, src, tgt):
        memory = self._embed(src)
        for layer in self.encoder:
            memory = layer(memory)
        x, length = self._embed(tgt), tgt.shape[1]
        for layer in self.decoder:
            x = layer(x, memory, self.causal[:length, :length])
        return x @ self.embed.weight.t()


def transformer_base():
    return TransformerBase()
