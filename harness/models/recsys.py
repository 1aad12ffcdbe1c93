"""Recommendation models: NCF (NeuMF), Deep & Cross Network, and DRN's dueling Q-network."""
import torch
import torch.nn as nn


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers = []
    for cin, cout in zip(sizes, sizes[1:]):
        layers += [nn.Linear(cin, cout), nn.ReLU()]
    return nn.Sequential(*layers)


class NeuMF(nn.Module):
    """He et al. 2017 NeuMF as in the MLPerf reference (MovieLens-20M: 138,493 users, 26,744 items): a GMF
    branch (64-d embeddings) and an MLP branch (128-d embeddings, layers 256-256-128-64), fused by one logit."""

    def __init__(self, users: int = 138_493, items: int = 26_744, mf_dim: int = 64, mlp=(256, 256, 128, 64)):
        super().__init__()
        self.mf_user, self.mf_item = nn.Embedding(users, mf_dim), nn.Embedding(items, mf_dim)
        self.mlp_user, self.mlp_item = nn.Embedding(users, mlp[0] // 2), nn.Embedding(items, mlp[0] // 2)
        self.mlp = _mlp(list(mlp))
        self.predict = nn.Linear(mf_dim + mlp[-1], 1)

    def forward(self, user, item):
        user, item = user[:, 0], item[:, 0]
        gmf = self.mf_user(user) * self.mf_item(item)
        deep = self.mlp(torch.cat([self.mlp_user(user), self.mlp_item(item)], dim=1))
        return torch.sigmoid(self.predict(torch.cat([gmf, deep], dim=1)))


class CrossLayer(nn.Module):
    """x_{l+1} = x0 * (x_l . w) + b + x_l (Wang et al. 2017, eq. 3)."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Linear(dim, 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x0, x):
        return x0 * self.weight(x) + self.bias + x


class DCN(nn.Module):
    """Wang et al. 2017 Deep & Cross Network on Criteo: 13 dense and 26 categorical features; each categorical
    feature hashed into 100k buckets with a 39-d embedding, so x0 has 13 + 26*39 = 1027 entries (the paper's
    x0 has 1026); 6 cross layers beside a 2 x 1024 ReLU network; one logit."""

    def __init__(self, dense: int = 13, sparse: int = 26, buckets: int = 100_000, emb: int = 39,
                 cross: int = 6, deep=(1024, 1024)):
        super().__init__()
        dim = dense + sparse * emb
        self.tables = nn.ModuleList(nn.Embedding(buckets, emb) for _ in range(sparse))
        self.cross = nn.ModuleList(CrossLayer(dim) for _ in range(cross))
        self.deep = _mlp([dim, *deep])
        self.predict = nn.Linear(dim + deep[-1], 1)

    def forward(self, dense, sparse):
        x0 = torch.cat([dense] + [t(sparse[:, i]) for i, t in enumerate(self.tables)], dim=1)
        x = x0
        for layer in self.cross:
            x = layer(x0, x)
        return torch.sigmoid(self.predict(torch.cat([x, self.deep(x0)], dim=1)))


class DuelingQNetwork(nn.Module):
    """DRN (Zheng et al. 2018) dueling Q-network scoring candidate news for a user: the value V(s) sees the user
    (413) and context (32) features, the advantage A(s, a) also sees each candidate's news (417) and user-news
    (25) features. The paper gives the feature sizes, not the layer widths; two 256-128 ReLU towers are used."""

    def __init__(self, state: int = 413 + 32, action: int = 417 + 25, hidden=(256, 128)):
        super().__init__()
        self.value = nn.Sequential(_mlp([state, *hidden]), nn.Linear(hidden[-1], 1))
        self.advantage = nn.Sequential(_mlp([state + action, *hidden]), nn.Linear(hidden[-1], 1))

    def forward(self, state, candidates):
        expanded = state[:, None, :].expand(-1, candidates.shape[1], -1)
        advantage = self.advantage(torch.cat([expanded, candidates], dim=2))[..., 0]
        return self.value(state) + advantage - advantage.mean(dim=1, keepdim=True)


def ncf():
    return NeuMF()


def dcn():
    return DCN()


def drn():
    return DuelingQNetwork()
