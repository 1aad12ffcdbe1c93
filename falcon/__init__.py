"""Falcon (SoCC '22): key operators, key-operator resource curves, PCA pruning, region trees and MCTS-BO."""
