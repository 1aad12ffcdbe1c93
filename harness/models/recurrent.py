"""Recurrent language models: the medium PTB model of Zaremba et al. 2014 (2 layers of 650 units, 10k words,
35 steps), with LSTM cells (`lstm`) or GRU cells (`gru`)."""
import torch.nn as nn


class RecurrentLM(nn.Module):
    """Embedding -> 2-layer recurrent network -> softmax projection over the vocabulary."""

    def __init__(self, cell: type[nn.RNNBase], vocab: int = 10000, hidden: int = 650, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = cell(hidden, hidden, num_layers=layers, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        output, _ = self.rnn(self.embed(tokens))
        return self.decoder(output)


def lstm_lm():
    return RecurrentLM(nn.LSTM)


def gru_lm():
    return RecurrentLM(nn.GRU)
