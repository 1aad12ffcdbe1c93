"""Tacotron 2 (Shen et al. 2018) as defined in NVIDIA DeepLearningExamples: character embedding, 3 conv +
BiLSTM encoder, location-sensitive attention, two 1024-unit LSTM decoder cells, 80-band mel projection,
stop gate and 5-conv postnet. Inference runs a fixed number of decoder steps (the stop gate is computed but
does not end the loop, so the graph has a static shape); the prenet dropout is off as in any eval graph."""
import torch
import torch.nn as nn
import torch.nn.functional as F

MEL, DECODER_STEPS = 80, 32


def lstm_step(cell: nn.LSTMCell, x, state):
    """One LSTMCell step written out in the operators TVM unrolls it into (dense, split, sigmoid, tanh,
    multiply, add); torch.export would otherwise keep an opaque aten.lstm_cell."""
    h, c = state
    gates = F.linear(x, cell.weight_ih, cell.bias_ih) + F.linear(h, cell.weight_hh, cell.bias_hh)
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class Encoder(nn.Module):
    def __init__(self, dim=512):
        super().__init__()
        self.convs = nn.ModuleList(nn.Sequential(nn.Conv1d(dim, dim, 5, padding=2), nn.BatchNorm1d(dim))
                                   for _ in range(3))
        self.lstm = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        return self.lstm(x.transpose(1, 2))[0]


class LocationAttention(nn.Module):
    def __init__(self, query=1024, memory=512, dim=128, filters=32, kernel=31):
        super().__init__()
        self.query_layer = nn.Linear(query, dim, bias=False)
        self.memory_layer = nn.Linear(memory, dim, bias=False)
        self.v = nn.Linear(dim, 1, bias=False)
        self.location_conv = nn.Conv1d(2, filters, kernel, padding=kernel // 2, bias=False)
        self.location_dense = nn.Linear(filters, dim, bias=False)

    def forward(self, query, memory, keys, weights, cumulative):
        location = self.location_dense(self.location_conv(torch.stack([weights, cumulative], 1)).transpose(1, 2))
        energies = self.v(torch.tanh(self.query_layer(query)[:, None] + location + keys))[..., 0]
        weights = energies.softmax(dim=1)
        return torch.bmm(weights[:, None], memory)[:, 0], weights


class Decoder(nn.Module):
    def __init__(self, memory=512, rnn=1024, prenet=256):
        super().__init__()
        self.prenet = nn.Sequential(nn.Linear(MEL, prenet, bias=False), nn.ReLU(),
                                    nn.Linear(prenet, prenet, bias=False), nn.ReLU())
        self.attention_rnn = nn.LSTMCell(prenet + memory, rnn)
        self.attention = LocationAttention(rnn, memory)
        self.decoder_rnn = nn.LSTMCell(rnn + memory, rnn)
        self.projection = nn.Linear(rnn + memory, MEL)
        self.gate = nn.Linear(rnn + memory, 1)
        self.rnn = rnn

    def forward(self, memory, steps):
        batch, length, width = memory.shape
        keys = self.attention.memory_layer(memory)
        frame = memory.new_zeros(batch, MEL)
        state_a = (memory.new_zeros(batch, self.rnn), memory.new_zeros(batch, self.rnn))
        state_d = (memory.new_zeros(batch, self.rnn), memory.new_zeros(batch, self.rnn))
        context, weights = memory.new_zeros(batch, width), memory.new_zeros(batch, length)
        cumulative = memory.new_zeros(batch, length)
        frames, gates = [], []
        for _ in range(steps):
            state_a = lstm_step(self.attention_rnn, torch.cat([self.prenet(frame), context], 1), state_a)
            context, weights = self.attention(state_a[0], memory, keys, weights, cumulative)
            cumulative = cumulative + weights
            state_d = lstm_step(self.decoder_rnn, torch.cat([state_a[0], context], 1), state_d)
            hidden = torch.cat([state_d[0], context], 1)
            frame = self.projection(hidden)
            frames.append(frame)
            gates.append(torch.sigmoid(self.gate(hidden)))
        return torch.stack(frames, 2), torch.cat(gates, 1)


class Postnet(nn.Sequential):
    def __init__(self, dim=512):
        chans = [MEL, dim, dim, dim, dim, MEL]
        layers = []
        for i, (cin, cout) in enumerate(zip(chans, chans[1:])):
            layers += [nn.Conv1d(cin, cout, 5, padding=2), nn.BatchNorm1d(cout)]
            if i < 4:
                layers.append(nn.Tanh())
        super().__init__(*layers)


class Tacotron2(nn.Module):
    def __init__(self, symbols=148, dim=512, steps=DECODER_STEPS):
        super().__init__()
        self.embedding = nn.Embedding(symbols, dim)
        self.encoder, self.decoder, self.postnet = Encoder(dim), Decoder(dim), Postnet(dim)
        self.steps = steps

    def forward(self, text):
        memory = self.encoder(self.embedding(text).transpose(1, 2))
        mel, gates = self.decoder(memory, self.steps)
        return mel + self.postnet(mel), gates


def tacotron2():
    return Tacotron2()
